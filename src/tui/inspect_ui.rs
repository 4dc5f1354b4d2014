//! The cluster pane's keys that ask about one object: `l` logs, Enter's describe-style
//! detail, `y` YAML, and `:logs`.

use super::app::{App, Pane};
use super::effects::Effect;
use super::panes::TableId;
use crate::model::Level;
use crate::model::cluster::EventRow;
use crate::model::inspect::{LogRequest, ObjectKind, ObjectRef};

impl App {
    /// The pod, node or Deployment of the selected row.
    fn selected_object(&self) -> Option<ObjectRef> {
        let table = self.current_table();
        let i = self.view(table).selected_row()?;
        let c = &self.data.cluster.data;
        let (kind, namespace, name) = match table {
            TableId::Pods => c
                .pods
                .get(i)
                .map(|p| (ObjectKind::Pod, &p.namespace, &p.name))?,
            TableId::Deployments => c
                .deployments
                .get(i)
                .map(|d| (ObjectKind::Deployment, &d.namespace, &d.name))?,
            TableId::Nodes => {
                return c.nodes.get(i).map(|n| ObjectRef {
                    kind: ObjectKind::Node,
                    namespace: String::new(),
                    name: n.name.clone(),
                });
            }
            _ => return None,
        };
        Some(ObjectRef {
            kind,
            namespace: namespace.clone(),
            name: name.clone(),
        })
    }

    pub(super) fn describe_selected(&mut self) {
        self.described = None;
        if let Some(object) = self.selected_object() {
            self.described = Some((object.clone(), Err("asking the API server…".into())));
            self.effects.push(Effect::Describe(object));
        }
    }

    pub(super) fn yaml_selected(&mut self) {
        match self.selected_object() {
            Some(object) => self.effects.push(Effect::Yaml(object)),
            None => {
                self.message = Some((
                    Level::Warn,
                    "y shows YAML on the Nodes, Deploy and Pods tabs".into(),
                ))
            }
        }
    }

    pub(super) fn logs_selected(&mut self) {
        match self.selected_object() {
            Some(object) if object.kind != ObjectKind::Node => self.open_logs(LogRequest {
                object,
                container: None,
                previous: false,
            }),
            _ => {
                self.message = Some((
                    Level::Warn,
                    "l shows logs on the Pods tab (or a Deployment's pods on the Deploy tab)"
                        .into(),
                ))
            }
        }
    }

    /// `:logs POD [CONTAINER]`, `:logs deploy/NAME`, either with `ns/` before the name.
    pub(super) fn logs_named(&mut self, target: &str, container: Option<String>) {
        let (kind, rest) = match target.split_once('/') {
            Some(("deploy" | "deployment" | "deployments" | "deploy.apps", rest)) => {
                (ObjectKind::Deployment, rest)
            }
            Some(("pod" | "pods" | "po", rest)) => (ObjectKind::Pod, rest),
            _ => (ObjectKind::Pod, target),
        };
        let (ns, name) = match rest.split_once('/') {
            Some((ns, name)) => (Some(ns), name),
            None => (None, rest),
        };
        let c = &self.data.cluster.data;
        let fits =
            |row_ns: &str, row_name: &str| row_name == name && ns.is_none_or(|n| n == row_ns);
        let found = match kind {
            ObjectKind::Deployment => c
                .deployments
                .iter()
                .find(|d| fits(&d.namespace, &d.name))
                .map(|d| d.namespace.clone()),
            _ => c
                .pods
                .iter()
                .find(|p| fits(&p.namespace, &p.name))
                .map(|p| p.namespace.clone()),
        };
        let Some(namespace) = found else {
            self.message = Some((
                Level::Warn,
                format!(
                    "no {} {target} in {} (Tab on :pods shows them)",
                    kind.name().to_lowercase(),
                    c.scope()
                ),
            ));
            return;
        };
        self.go(Pane::Cluster);
        self.open_logs(LogRequest {
            object: ObjectRef {
                kind,
                namespace,
                name: name.to_string(),
            },
            container,
            previous: false,
        });
    }

    /// The events the pane watches that are about `object`, newest first.
    pub fn events_of(&self, object: &ObjectRef) -> Vec<&EventRow> {
        let wanted = format!("{}/{}", object.kind.name(), object.name);
        let mut events: Vec<&EventRow> = self
            .data
            .cluster
            .data
            .events
            .iter()
            .filter(|e| {
                e.object == wanted
                    && (object.namespace.is_empty() || e.namespace == object.namespace)
            })
            .collect();
        events.sort_by_key(|e| std::cmp::Reverse(e.last_seen));
        events
    }
}
