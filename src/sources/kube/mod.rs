//! Live Kubernetes: watch-fed cluster snapshots, the cluster operations behind `Ops`, and
//! leases that keep two consoles from working on the same target at once.
//!
//! The integrator's entry points: [`Fleet::start`] for the console (every configured context
//! watched, the active one feeding the cluster pane and taking operations, `:ctx` / `:ns`
//! through `ClusterControl`); underneath it [`connect`] for a client, [`spawn`] for one
//! context's feed, [`KubeOps::new`] (or [`ops_for`]) for operations;
//! [`lease::Lease::acquire`] around a playbook run.
//!
//! ```ignore
//! let client = kube::connect(Some("prod-kr")).await?;
//! let watch = kube::spawn(client.clone(), "prod-kr", Some("shop".into()), publishers.cluster);
//! let ops = kube::ops_for(client.clone(), "prod-kr", config.kube.as_ref(), cli.read_only);
//! // around a playbook run on deployment shop/user:
//! let lease = Lease::acquire(client, "shop", "deployment/user", &lease::identity(),
//!                            lease::DEFAULT_DURATION).await?;   // Err(Held{holder, since}) if taken
//! ops.apply(&op, Mode::DryRun).await?;  // access verdict + the call with ?dryRun=All
//! lease.release().await?;
//! drop(watch);                          // stops the watchers (context / namespace switch)
//! ```

mod error;
mod fleet;
pub mod inspect;
pub mod lease;
pub mod logs;
mod metrics;
mod ops;
pub mod project;
mod store;
mod watch;

pub use error::describe;
pub use fleet::{ConfigSource, Fleet};
pub use ops::{KubeOps, lease_target, ops_for};
pub use watch::{ClusterWatch, Tuning, spawn, spawn_with};

use ::kube::config::{KubeConfigOptions, Kubeconfig};
use ::kube::{Client, Config};
use serde::Deserialize;
use std::path::PathBuf;

/// `[kube]` in config.toml.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KubeConfig {
    /// Contexts watched at once (e.g. both regions of an active-active service); empty means
    /// the kubeconfig's current context.
    #[serde(default)]
    pub contexts: Vec<String>,
    /// The namespace shown and operated on by default; absent means all namespaces.
    pub namespace: Option<String>,
    /// Contexts on which operations are refused (dry-runs still run).
    #[serde(default)]
    pub read_only: Vec<String>,
}

impl KubeConfig {
    pub fn is_read_only(&self, context: &str) -> bool {
        self.read_only.iter().any(|c| c == context)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("cannot use kubeconfig context {context}: {source}")]
    Context {
        context: String,
        source: ::kube::config::KubeconfigError,
    },
    #[error("cannot read kubeconfig {}: {source}", path.display())]
    File {
        path: PathBuf,
        source: ::kube::config::KubeconfigError,
    },
    #[error(
        "no Kubernetes configuration: KUBECONFIG and ~/.kube/config give no usable context and this is not running in a pod ({0})"
    )]
    Infer(::kube::config::InferConfigError),
    #[error("cannot create a Kubernetes client for {context}: {reason}")]
    Client { context: String, reason: String },
}

/// A client for `context`, or for the current context (falling back to the in-cluster
/// service account when run in a pod). Reads `KUBECONFIG` (several files, merged as kubectl
/// does) or `~/.kube/config`; exec plugins such as `aws eks get-token` run as configured.
pub async fn connect(context: Option<&str>) -> Result<Client, ConnectError> {
    let config = match context {
        Some(ctx) => Config::from_kubeconfig(&options(ctx))
            .await
            .map_err(|source| ConnectError::Context {
                context: ctx.to_string(),
                source,
            })?,
        None => Config::infer().await.map_err(ConnectError::Infer)?,
    };
    client(config, context.unwrap_or("the current context"))
}

/// Like [`connect`] but from explicit kubeconfig files (merged in order, like a
/// `KUBECONFIG` list), for `--kubeconfig` and for tests.
pub async fn connect_with(
    files: &[PathBuf],
    context: Option<&str>,
) -> Result<Client, ConnectError> {
    let mut merged: Option<Kubeconfig> = None;
    for path in files {
        let file = Kubeconfig::read_from(path).map_err(|source| ConnectError::File {
            path: path.clone(),
            source,
        })?;
        merged = Some(match merged {
            None => file,
            Some(m) => m.merge(file).map_err(|source| ConnectError::File {
                path: path.clone(),
                source,
            })?,
        });
    }
    let kubeconfig = merged.unwrap_or_default();
    let name = context
        .map(str::to_string)
        .or_else(|| kubeconfig.current_context.clone())
        .unwrap_or_default();
    let config = Config::from_custom_kubeconfig(kubeconfig, &options(&name))
        .await
        .map_err(|source| ConnectError::Context {
            context: name.clone(),
            source,
        })?;
    client(config, &name)
}

/// The context a `connect(None)` would use, for labelling the pane; `in-cluster` when there
/// is no kubeconfig.
pub fn current_context() -> String {
    Kubeconfig::read()
        .ok()
        .and_then(|k| k.current_context)
        .unwrap_or_else(|| "in-cluster".to_string())
}

/// The contexts the kubeconfig knows, for `:ctx` completion.
pub fn context_names() -> Vec<String> {
    Kubeconfig::read()
        .map(|k| k.contexts.into_iter().map(|c| c.name).collect())
        .unwrap_or_default()
}

fn options(context: &str) -> KubeConfigOptions {
    KubeConfigOptions {
        context: Some(context.to_string()),
        ..KubeConfigOptions::default()
    }
}

fn client(config: Config, context: &str) -> Result<Client, ConnectError> {
    // rustls picks its crypto provider by itself only while exactly one is compiled in; once
    // another dependency (an AWS SDK with aws-lc-rs) adds a second, building a TLS client
    // panics unless a process default is set. Setting it here keeps `https://` clusters
    // working whatever else is linked; an error just means a default is already in place.
    let _ = rustls::crypto::ring::default_provider().install_default();
    Client::try_from(config).map_err(|e| ConnectError::Client {
        context: context.to_string(),
        reason: describe(&e),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_reads_contexts_namespace_and_read_only() {
        let cfg: KubeConfig = toml::from_str(
            "contexts = [\"prod-kr\", \"prod-us\"]\nnamespace = \"shop\"\nread_only = [\"prod-us\"]\n",
        )
        .unwrap();
        assert_eq!(cfg.contexts, ["prod-kr", "prod-us"]);
        assert!(cfg.is_read_only("prod-us") && !cfg.is_read_only("prod-kr"));
        assert!(toml::from_str::<KubeConfig>("context = \"x\"").is_err());
    }
}
