//! Live operations come from several backends: each operation goes to the one that owns its
//! area, and an area nobody configured says so instead of failing obscurely.

use super::{Mode, Op, OpError, Ops, Outcome};
use crate::model::summary::Area;
use async_trait::async_trait;
use std::sync::Arc;

#[derive(Default)]
pub struct Router {
    routes: Vec<(Area, Arc<dyn Ops>)>,
    /// Route 53 changes of `[[regions]]`: shown with the clusters, but not theirs to make.
    regions: Option<Arc<dyn Ops>>,
}

impl Router {
    pub fn route(mut self, area: Area, ops: Arc<dyn Ops>) -> Self {
        self.routes.push((area, ops));
        self
    }

    pub fn regions(mut self, ops: Arc<dyn Ops>) -> Self {
        self.regions = Some(ops);
        self
    }
}

impl Router {
    fn owner(&self, op: &Op) -> Result<&Arc<dyn Ops>, OpError> {
        if op.is_region() {
            return self.regions.as_ref().ok_or_else(|| {
                OpError::Unsupported(format!("{op}: no [[regions]] are configured"))
            });
        }
        match self.routes.iter().find(|(a, _)| *a == op.area()) {
            Some((_, ops)) => Ok(ops),
            None => Err(OpError::Unsupported(format!(
                "{op}: no {} backend is configured",
                op.area().title()
            ))),
        }
    }
}

#[async_trait]
impl Ops for Router {
    async fn apply(&self, op: &Op, mode: Mode) -> Result<Outcome, OpError> {
        self.owner(op)?.apply(op, mode).await
    }

    async fn preflight(&self, op: &Op) -> Result<String, OpError> {
        self.owner(op)?.preflight(op).await
    }

    fn override_anti_flap(&self, cluster: &str) {
        for (_, ops) in &self.routes {
            ops.override_anti_flap(cluster);
        }
    }

    fn anti_flap_refusal(&self, cluster: &str) -> Option<String> {
        self.routes
            .iter()
            .find_map(|(_, ops)| ops.anti_flap_refusal(cluster))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Named(&'static str);

    #[async_trait]
    impl Ops for Named {
        async fn apply(&self, _op: &Op, _mode: Mode) -> Result<Outcome, OpError> {
            Ok(Outcome {
                summary: self.0.into(),
                calls: vec![],
            })
        }
    }

    #[tokio::test]
    async fn each_operation_goes_to_its_area() {
        let router = Router::default()
            .route(Area::Db, Arc::new(Named("db")))
            .route(Area::Cluster, Arc::new(Named("kube")));
        let promote = Op::Promote {
            cluster: "c".into(),
            member: "m".into(),
        };
        let scale = Op::Scale {
            namespace: "n".into(),
            deployment: "d".into(),
            replicas: 1,
        };
        assert_eq!(
            router.apply(&promote, Mode::DryRun).await.unwrap().summary,
            "db"
        );
        assert_eq!(
            router.apply(&scale, Mode::DryRun).await.unwrap().summary,
            "kube"
        );
        let block = Op::BlockIp {
            acl: "a".into(),
            ip: "192.0.2.1".into(),
        };
        assert_eq!(
            router
                .apply(&block, Mode::Apply)
                .await
                .unwrap_err()
                .to_string(),
            "not available here: block 192.0.2.1 in web ACL a: no WAF backend is configured"
        );
    }
}
