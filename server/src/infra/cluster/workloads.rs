//! Typed verbs on the workloads of one namespace (Pods, Deployments,
//! StatefulSets, DaemonSets, Jobs, CronJobs, ServiceAccounts, Ingresses),
//! as the handle's user, over the impersonating [`UserKube`] transport.
//!
//! Lists decode each item on its own: an object that does not decode is
//! counted and skipped, never the end of the list. The one write is
//! [`WorkloadsApi::restart`], the same patch `kubectl rollout restart`
//! sends, and only for the kinds that have a pod template it renews.

use k8s_openapi::{
    NamespaceResourceScope,
    api::apps::v1::{DaemonSet, Deployment, StatefulSet},
};
use kube::{
    Resource,
    api::{ListParams, Patch, PatchParams},
};
use serde::{Deserialize, de::DeserializeOwned};

use super::{KubeError, UserKube};

/// The pod-template annotation `kubectl rollout restart` sets.
pub const RESTARTED_AT: &str = "kubectl.kubernetes.io/restartedAt";

/// The field manager Strongroom's restarts are written under.
const FIELD_MANAGER: &str = "strongroom";

/// The workloads of one namespace, as one user.
pub struct WorkloadsApi<'a> {
    kube: &'a UserKube,
    namespace: String,
}

/// One page of a list: the objects that decoded, how many did not, and the
/// token of the next page.
#[derive(Debug)]
pub struct Page<K> {
    pub items: Vec<K>,
    /// Objects on this page that could not be decoded as `K`.
    pub malformed: usize,
    /// The token for the next page; `None` at the end.
    pub continue_token: Option<String>,
}

/// A list as it comes: each item kept raw until it is decoded on its own.
#[derive(Deserialize)]
struct RawList {
    #[serde(default)]
    items: Vec<serde_json::Value>,
    #[serde(default)]
    metadata: RawListMeta,
}

#[derive(Deserialize, Default)]
struct RawListMeta {
    #[serde(rename = "continue", default)]
    continue_token: Option<String>,
}

/// The kinds [`WorkloadsApi::restart`] may patch: those whose pod template
/// a controller rolls out again when it changes.
pub trait Restartable:
    Resource<DynamicType = (), Scope = NamespaceResourceScope> + DeserializeOwned + sealed::Sealed
{
}

impl Restartable for Deployment {}
impl Restartable for StatefulSet {}
impl Restartable for DaemonSet {}

mod sealed {
    pub trait Sealed {}
    impl Sealed for k8s_openapi::api::apps::v1::Deployment {}
    impl Sealed for k8s_openapi::api::apps::v1::StatefulSet {}
    impl Sealed for k8s_openapi::api::apps::v1::DaemonSet {}
}

impl UserKube {
    /// The workloads of `namespace`, as this handle's user.
    pub fn workloads(&self, namespace: &str) -> WorkloadsApi<'_> {
        WorkloadsApi {
            kube: self,
            namespace: namespace.to_string(),
        }
    }
}

fn config(e: impl std::fmt::Display) -> KubeError {
    KubeError::Config(e.to_string())
}

impl WorkloadsApi<'_> {
    fn request<K>(&self) -> kube::core::Request
    where
        K: Resource<DynamicType = (), Scope = NamespaceResourceScope>,
    {
        kube::core::Request::new(K::url_path(&(), Some(&self.namespace)))
    }

    /// One page of at most `limit` objects of kind `K`, after the page
    /// `continue_token` ended (the first page when `None`).
    pub async fn list<K>(
        &self,
        limit: u32,
        continue_token: Option<&str>,
    ) -> Result<Page<K>, KubeError>
    where
        K: Resource<DynamicType = (), Scope = NamespaceResourceScope> + DeserializeOwned,
    {
        let mut params = ListParams::default().limit(limit);
        if let Some(token) = continue_token.filter(|t| !t.is_empty()) {
            params = params.continue_token(token);
        }
        let request = self.request::<K>().list(&params).map_err(config)?;
        let raw: RawList = self.kube.call(request).await?;
        let total = raw.items.len();
        let items: Vec<K> = raw
            .items
            .into_iter()
            .filter_map(|item| serde_json::from_value(item).ok())
            .collect();
        Ok(Page {
            malformed: total - items.len(),
            items,
            continue_token: raw.metadata.continue_token.filter(|c| !c.is_empty()),
        })
    }

    /// Reads one object of kind `K`.
    pub async fn get<K>(&self, name: &str) -> Result<K, KubeError>
    where
        K: Resource<DynamicType = (), Scope = NamespaceResourceScope> + DeserializeOwned,
    {
        let request = self
            .request::<K>()
            .get(name, &Default::default())
            .map_err(config)?;
        self.kube.call(request).await
    }

    /// Restarts `name` the way `kubectl rollout restart` does: a strategic
    /// merge patch that sets the pod template's [`RESTARTED_AT`] annotation
    /// to `at`, so its controller rolls the pods out again.
    pub async fn restart<K: Restartable>(&self, name: &str, at: &str) -> Result<K, KubeError> {
        let patch = serde_json::json!({
            "spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: at}}}}
        });
        let params = PatchParams {
            field_manager: Some(FIELD_MANAGER.to_string()),
            ..Default::default()
        };
        let request = self
            .request::<K>()
            .patch(name, &params, &Patch::Strategic(patch))
            .map_err(config)?;
        self.kube.call(request).await
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::{batch::v1::CronJob, core::v1::Pod, networking::v1::Ingress};

    use super::*;

    #[test]
    fn each_kind_has_its_api_path() {
        assert_eq!(
            Pod::url_path(&(), Some("team-a")),
            "/api/v1/namespaces/team-a/pods"
        );
        assert_eq!(
            Deployment::url_path(&(), Some("team-a")),
            "/apis/apps/v1/namespaces/team-a/deployments"
        );
        assert_eq!(
            CronJob::url_path(&(), Some("team-a")),
            "/apis/batch/v1/namespaces/team-a/cronjobs"
        );
        assert_eq!(
            Ingress::url_path(&(), Some("team-a")),
            "/apis/networking.k8s.io/v1/namespaces/team-a/ingresses"
        );
    }

    /// A handle whose API server answers every request with `body`, and
    /// the URIs it was asked for.
    fn answering(body: &'static str) -> (UserKube, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = seen.clone();
        let transport = tower::service_fn(move |req: http::Request<kube::client::Body>| {
            log.lock().unwrap().push(req.uri().to_string());
            async move {
                Ok::<_, std::convert::Infallible>(http::Response::new(kube::client::Body::from(
                    body.as_bytes().to_vec(),
                )))
            }
        });
        let kube =
            crate::infra::cluster::KubeAccess::over(transport, std::time::Duration::from_secs(5))
                .for_user(crate::infra::cluster::Identity {
                    username: "oidc:alice".into(),
                    groups: vec![],
                    uid: None,
                });
        (kube, seen)
    }

    #[tokio::test]
    async fn a_page_skips_and_counts_objects_that_do_not_decode() {
        let (kube, seen) = answering(
            r#"{"kind": "PodList", "metadata": {"continue": "next"}, "items": [
                {"metadata": {"name": "good"}, "spec": {"containers": [{"name": "app"}]}},
                {"metadata": {"name": "bad"}, "spec": {"containers": "not a list"}},
                {"metadata": {"name": 7}},
                {"metadata": {"name": "also-good"}}
            ]}"#,
        );
        let page = kube
            .workloads("team-a")
            .list::<Pod>(500, Some("abc"))
            .await
            .unwrap();
        let names: Vec<_> = page
            .items
            .iter()
            .map(|p| p.metadata.name.clone().unwrap_or_default())
            .collect();
        assert_eq!(names, ["good", "also-good"]);
        assert_eq!(page.malformed, 2);
        assert_eq!(page.continue_token.as_deref(), Some("next"));
        let uri = seen.lock().unwrap()[0].clone();
        assert!(uri.contains("/api/v1/namespaces/team-a/pods?"), "{uri}");
        assert!(uri.contains("limit=500"), "{uri}");
        assert!(uri.contains("continue=abc"), "{uri}");
    }
}
