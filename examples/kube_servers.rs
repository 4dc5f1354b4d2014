//! Two test Kubernetes API servers to try the console against by hand (`:ctx`, `:ns`, the
//! overview's context lines) without a cluster:
//!
//! ```sh
//! cargo run --example kube_servers -- /tmp/kube   # prints the KUBECONFIG to use, runs until Ctrl-C
//! printf '[kube]\ncontexts = ["first", "second"]\n' > /tmp/kube/config.toml
//! KUBECONFIG=/tmp/kube/kubeconfig cargo run -- --config /tmp/kube/config.toml
//! ```
//!
//! `first` holds the `shop` namespace of the tests' fixtures, `second` the `payments` and
//! `ledger` namespaces. Both listen on ephemeral loopback ports.

#[path = "../tests/kubesupport/mod.rs"]
mod kubesupport;

use kubesupport::{KubeServer, fixtures, kubeconfig_for};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let dir = std::path::PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "kube-servers".into()),
    );
    std::fs::create_dir_all(&dir)?;
    let (first, second) = (KubeServer::start().await, KubeServer::start().await);
    fixtures::shop(&first);
    kubesupport::logs::shop_logs(&first);
    fixtures::payments(&second);
    let kubeconfig = kubeconfig_for(&[("first", &first), ("second", &second)], &dir);
    println!(
        "first on {}, second on {}\nKUBECONFIG={}",
        first.addr(),
        second.addr(),
        kubeconfig.display()
    );
    tokio::signal::ctrl_c().await
}
