//! Questions about the user rather than about Secrets: what the API server
//! lets them do (a SelfSubjectAccessReview) and which namespaces they may
//! list. Both are asked as the user, through the same impersonating handle.

use super::{KubeError, UserKube};

impl UserKube {
    /// Asks the API server whether the user may do `verb` on `resource` in
    /// `namespace` (a SelfSubjectAccessReview, made as the user).
    pub async fn can_i(
        &self,
        verb: &str,
        resource: &str,
        namespace: &str,
    ) -> Result<bool, KubeError> {
        self.can_i_on(verb, resource, namespace, None).await
    }

    /// Like [`UserKube::can_i`], about the object `name` when given.
    pub async fn can_i_on(
        &self,
        verb: &str,
        resource: &str,
        namespace: &str,
        name: Option<&str>,
    ) -> Result<bool, KubeError> {
        use k8s_openapi::api::authorization::v1::{
            ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
        };
        let review = SelfSubjectAccessReview {
            spec: SelfSubjectAccessReviewSpec {
                resource_attributes: Some(ResourceAttributes {
                    namespace: Some(namespace.to_string()),
                    verb: Some(verb.to_string()),
                    resource: Some(resource.to_string()),
                    name: name.map(str::to_string),
                    ..Default::default()
                }),
                ..Default::default()
            },
            ..Default::default()
        };
        let body = serde_json::to_vec(&review).map_err(|e| KubeError::Decode(e.to_string()))?;
        let request =
            kube::core::Request::new("/apis/authorization.k8s.io/v1/selfsubjectaccessreviews")
                .create(&kube::api::PostParams::default(), body)
                .map_err(|e| KubeError::Config(e.to_string()))?;
        let answer: SelfSubjectAccessReview = self.call(request).await?;
        Ok(answer.status.is_some_and(|s| s.allowed))
    }

    /// Names of all namespaces, if the user may list them: metadata-only
    /// pages of 1,000, of which only the names are read (a namespace's
    /// metadata is mostly `managedFields`; ten thousand of them in one
    /// answer would be megabytes held at once).
    pub async fn namespace_names(&self) -> Result<Vec<String>, KubeError> {
        #[derive(serde::Deserialize)]
        struct Page {
            #[serde(default)]
            items: Vec<Item>,
            #[serde(default)]
            metadata: kube::core::ListMeta,
        }
        #[derive(serde::Deserialize)]
        struct Item {
            metadata: Name,
        }
        #[derive(serde::Deserialize)]
        struct Name {
            name: Option<String>,
        }
        let mut names = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut params = kube::api::ListParams::default().limit(1_000);
            if let Some(t) = token.take() {
                params = params.continue_token(&t);
            }
            let request = kube::core::Request::new("/api/v1/namespaces")
                .list_metadata(&params)
                .map_err(|e| KubeError::Config(e.to_string()))?;
            let page: Page = self.call(request).await?;
            names.extend(page.items.into_iter().filter_map(|i| i.metadata.name));
            match page.metadata.continue_.filter(|c| !c.is_empty()) {
                Some(next) => token = Some(next),
                None => return Ok(names),
            }
        }
    }
}
