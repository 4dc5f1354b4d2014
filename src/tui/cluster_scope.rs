//! `:ctx` and `:ns`: which Kubernetes context and namespace the cluster pane shows and
//! operations go to. Checked here, against what the console knows; carried out by the
//! runtime, which reports back.

use super::app::{App, Pane};
use super::effects::Effect;
use crate::model::Level;
use crate::model::cluster::scope;
use crate::model::summary::ContextHealth;

pub(super) const NO_KUBE: &str =
    "no live Kubernetes in this console: :ctx and :ns need [kube] in the config";

/// Watched contexts first (a pod's service account has no kubeconfig), then the rest of
/// the kubeconfig's.
pub(super) fn known_contexts(kubeconfig: &[String], watched: &[ContextHealth]) -> Vec<String> {
    let mut names: Vec<String> = watched.iter().map(|c| c.context.clone()).collect();
    for name in kubeconfig {
        if !names.contains(name) {
            names.push(name.clone());
        }
    }
    names
}

impl App {
    fn active_context(&self) -> Option<&ContextHealth> {
        self.data.contexts.iter().find(|c| c.active)
    }

    /// Whether the scope may change now; says why not otherwise.
    fn may_switch(&mut self) -> bool {
        if self.data.contexts.is_empty() {
            self.message = Some((Level::Warn, NO_KUBE.into()));
            return false;
        }
        if self.running() {
            // The run's later steps and checks would silently land on another cluster.
            let context = &self.data.cluster.data.context;
            self.message = Some((
                Level::Warn,
                format!(
                    "a playbook is running against {context}: let it finish or abort it (x) before switching"
                ),
            ));
            return false;
        }
        true
    }

    pub(super) fn use_context(&mut self, name: String) {
        if !self.may_switch() {
            return;
        }
        if let Some(active) = self.active_context()
            && active.context == name
        {
            let said = format!(
                "already on {}",
                scope(&active.context, active.namespace.as_deref())
            );
            self.message = Some((Level::Ok, said));
            self.go(Pane::Cluster);
            return;
        }
        if !known_contexts(&self.kube_contexts, &self.data.contexts).contains(&name) {
            self.message = Some((
                Level::Warn,
                format!("no context `{name}` in the kubeconfig (Tab lists them)"),
            ));
            return;
        }
        self.message = Some((Level::Ok, format!("switching to context {name}…")));
        self.effects.push(Effect::UseContext(name));
        self.go(Pane::Cluster);
    }

    pub(super) fn use_namespace(&mut self, namespace: Option<String>) {
        if !self.may_switch() {
            return;
        }
        let Some(active) = self.active_context() else {
            return;
        };
        let wanted = scope(&active.context, namespace.as_deref());
        self.message = Some(if active.namespace == namespace {
            (Level::Ok, format!("already on {wanted}"))
        } else {
            self.effects.push(Effect::UseNamespace(namespace));
            (Level::Ok, format!("switching to {wanted}…"))
        });
        self.go(Pane::Cluster);
    }

    /// `:ctx` alone: every context, what it watches and how it is doing.
    pub(super) fn show_contexts(&mut self) {
        if self.data.contexts.is_empty() {
            self.message = Some((Level::Warn, NO_KUBE.into()));
            return;
        }
        let names = known_contexts(&self.kube_contexts, &self.data.contexts);
        let width = names
            .iter()
            .map(|n| n.chars().count())
            .chain(["CONTEXT".len()])
            .max()
            .unwrap_or(0);
        let mut text = format!("  {:width$}  {:<16} STATE\n", "CONTEXT", "NAMESPACE");
        for name in &names {
            let line = match self.data.contexts.iter().find(|c| &c.context == name) {
                Some(c) => {
                    let state = match (&c.error, &c.worst) {
                        (Some(e), _) => format!("{} {e}", Level::Crit.marker()),
                        (None, _) if c.loading => "… loading".to_string(),
                        (None, Some(worst)) => format!("{} {worst}", c.level.marker()),
                        (None, None) => format!("{} no problems", c.level.marker()),
                    };
                    let mark = if c.active { "▸" } else { " " };
                    let ns = c.namespace.as_deref().unwrap_or("all");
                    format!("{mark} {name:width$}  {ns:<16} {state}\n")
                }
                None => format!("  {name:width$}  {:<16} not watched\n", "-"),
            };
            text.push_str(&line);
        }
        text.push_str("\n:ctx NAME  show and operate on another context (Tab completes)");
        text.push_str("\n:ns NAME   watch one namespace of the active context (:ns all)");
        self.plan = Some(("contexts".into(), text, 0));
    }
}

#[cfg(test)]
mod tests {
    use super::super::action::Action;
    use super::super::app::tests::app;
    use super::*;
    use crate::model::Feed;
    use crate::model::cluster::ClusterSnapshot;
    use crate::playbook::run::RunView;
    use std::sync::Arc;

    fn line(context: &str, namespace: Option<&str>, active: bool) -> ContextHealth {
        ContextHealth {
            context: context.into(),
            namespace: namespace.map(str::to_string),
            active,
            ..ContextHealth::default()
        }
    }

    fn live() -> App {
        let mut a = app();
        a.kube_contexts = vec!["prod-kr".into(), "prod-us".into(), "stage".into()];
        let mut crashing = line("prod-us", Some("shop"), false);
        crashing.level = Level::Crit;
        crashing.worst = Some("pod shop/a CrashLoopBackOff".into());
        a.update(Action::Contexts(Arc::new(vec![
            line("prod-kr", None, true),
            crashing,
        ])));
        a.update(Action::Cluster(Arc::new(Feed {
            data: ClusterSnapshot {
                context: "prod-kr".into(),
                ..ClusterSnapshot::default()
            },
            health: Default::default(),
        })));
        a
    }

    fn said(a: &App) -> String {
        a.message
            .as_ref()
            .map(|(_, m)| m.clone())
            .unwrap_or_default()
    }

    #[test]
    fn ctx_asks_the_runtime_for_a_known_context_and_shows_the_cluster() {
        let mut a = live();
        a.update(Action::Run("ctx prod-us".into()));
        assert_eq!(a.effects, [Effect::UseContext("prod-us".into())]);
        assert_eq!(a.pane, Pane::Cluster);
        assert_eq!(said(&a), "switching to context prod-us…");
        // Not watched yet, but in the kubeconfig: the runtime connects to it.
        a.effects.clear();
        a.update(Action::Run("ctx stage".into()));
        assert_eq!(a.effects, [Effect::UseContext("stage".into())]);
    }

    #[test]
    fn an_unknown_or_current_context_is_a_message_not_a_switch() {
        let mut a = live();
        a.update(Action::Run("ctx prod-eu".into()));
        assert!(a.effects.is_empty());
        assert_eq!(
            a.message,
            Some((
                Level::Warn,
                "no context `prod-eu` in the kubeconfig (Tab lists them)".into()
            ))
        );
        assert_eq!(a.pane, Pane::Overview);
        a.update(Action::Run("ctx prod-kr".into()));
        assert!(a.effects.is_empty());
        assert_eq!(said(&a), "already on prod-kr · ns all");
        assert_eq!(a.pane, Pane::Cluster, "shown all the same");
    }

    #[test]
    fn enter_on_an_overview_context_line_shows_that_context() {
        use super::super::action::Command;
        let mut a = live();
        // Cluster, then its two contexts, then DB.
        a.update(Action::Command(Command::Down));
        a.update(Action::Command(Command::Down));
        a.update(Action::Command(Command::Open));
        assert_eq!(a.effects, [Effect::UseContext("prod-us".into())]);
        assert_eq!(a.pane, Pane::Cluster);
        a.effects.clear();
        a.go(Pane::Overview);
        a.update(Action::Command(Command::Down));
        a.update(Action::Command(Command::Open));
        assert_eq!(a.pane, Pane::Db, "areas still open as before");
        assert!(a.effects.is_empty());
    }

    #[test]
    fn ns_narrows_and_widens_the_active_context() {
        let mut a = live();
        a.update(Action::Run("ns shop".into()));
        assert_eq!(a.effects, [Effect::UseNamespace(Some("shop".into()))]);
        assert_eq!(said(&a), "switching to prod-kr · ns shop…");
        a.effects.clear();
        a.update(Action::Run("ns all".into()));
        assert!(a.effects.is_empty(), "prod-kr already watches all");
        assert_eq!(said(&a), "already on prod-kr · ns all");
        a.update(Action::Run("ns Bad_Name".into()));
        assert!(a.effects.is_empty());
        assert!(said(&a).contains("is not a namespace name"), "{}", said(&a));
    }

    #[test]
    fn no_switch_without_live_kubernetes_or_during_a_run() {
        let mut a = app();
        a.update(Action::Run("ctx prod-us".into()));
        a.update(Action::Run("ns shop".into()));
        assert!(a.effects.is_empty());
        assert_eq!(said(&a), NO_KUBE);
        let mut a = live();
        a.update(Action::Progress(RunView {
            playbook: "restart".into(),
            run: 1,
            steps: vec![],
            outcome: None,
        }));
        a.update(Action::Run("ctx prod-us".into()));
        a.update(Action::Run("ns shop".into()));
        assert!(a.effects.is_empty());
        assert!(said(&a).starts_with("a playbook is running against prod-kr"));
    }

    #[test]
    fn ctx_alone_lists_every_context_with_what_it_watches() {
        let mut a = live();
        a.update(Action::Run("ctx".into()));
        let (title, text, _) = a.plan.clone().expect("a popup");
        assert_eq!(title, "contexts");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[1], "▸ prod-kr  all              ✓ no problems");
        assert_eq!(
            lines[2],
            "  prod-us  shop             ✗ pod shop/a CrashLoopBackOff"
        );
        assert_eq!(lines[3], "  stage    -                not watched");
    }

    #[test]
    fn another_contexts_trouble_marks_the_cluster_area() {
        let a = live();
        let cluster = a
            .data
            .summary(crate::model::summary::Area::Cluster)
            .unwrap();
        assert_eq!(cluster.level, Level::Crit);
        assert_eq!(
            cluster.worst.as_deref(),
            Some("context prod-us: pod shop/a CrashLoopBackOff")
        );
    }

    #[test]
    fn operations_default_to_the_watched_namespace() {
        let mut a = live();
        a.update(Action::Cluster(Arc::new(Feed {
            data: ClusterSnapshot {
                context: "prod-kr".into(),
                namespace: Some("payments".into()),
                ..ClusterSnapshot::default()
            },
            health: Default::default(),
        })));
        assert!(a.data.namespaces.contains("payments"));
        a.go(Pane::Playbooks);
        let restart = a
            .data
            .playbooks
            .iter()
            .position(|p| p.name == "restart")
            .expect("the restart playbook");
        a.select(super::super::panes::TableId::Playbooks, restart);
        a.start_playbook(true);
        let form = a.form.as_ref().expect("the inputs form");
        let field = form.fields.iter().position(|f| f.label == "namespace");
        assert_eq!(form.value(field.expect("a namespace input")), "payments");
    }
}
