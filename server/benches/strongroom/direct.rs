//! The direct Kubernetes API, impersonating the same identity: the baseline
//! Strongroom's list and reveal figures are compared with.

use serde_json::Value;

use crate::{
    LIST_NS, LIST_PAGE, REVEAL_NS, REVEAL_SECRET,
    common::{self, Stack, b64},
};

#[derive(Clone)]
pub(crate) struct Direct {
    client: kube::Client,
}

impl Direct {
    pub(crate) async fn as_user(stack: &Stack, me: &Value) -> Direct {
        let mut config = kube::Config::from_custom_kubeconfig(
            kube::config::Kubeconfig::read_from(stack.var("BACKEND_KUBECONFIG")).unwrap(),
            &Default::default(),
        )
        .await
        .unwrap();
        config.auth_info.impersonate = Some(me["username"].as_str().unwrap().to_string());
        config.auth_info.impersonate_groups = Some(
            me["groups"]
                .as_array()
                .unwrap()
                .iter()
                .map(|g| g.as_str().unwrap().to_string())
                .collect(),
        );
        Direct {
            client: kube::Client::try_from(config).unwrap(),
        }
    }

    /// The whole namespace as metadata-only Table pages (what Strongroom asks
    /// the API server for), returning the number of rows.
    pub(crate) async fn list_all(&self) -> usize {
        self.list_all_in(LIST_NS, LIST_PAGE).await
    }

    /// Every row of `ns` in metadata-only Table pages of `page`.
    pub(crate) async fn list_all_in(&self, ns: &str, page: usize) -> usize {
        let mut n = 0;
        let mut token: Option<String> = None;
        loop {
            let (names, next) = self.list_page(ns, page, token.as_deref()).await;
            n += names.len();
            token = next;
            if token.is_none() {
                return n;
            }
        }
    }

    /// One metadata-only Table page of `ns`: its names and the next token.
    pub(crate) async fn list_page(
        &self,
        ns: &str,
        limit: usize,
        token: Option<&str>,
    ) -> (Vec<String>, Option<String>) {
        let mut uri =
            format!("/api/v1/namespaces/{ns}/secrets?limit={limit}&includeObject=Metadata");
        if let Some(t) = token {
            uri.push_str(&format!("&continue={}", common::urlencode(t)));
        }
        let req = http::Request::get(uri)
            .header(
                "accept",
                "application/json;as=Table;v=v1;g=meta.k8s.io,application/json",
            )
            .body(Vec::new())
            .unwrap();
        let table: Value = self.client.request(req).await.expect("direct list");
        let names = table["rows"]
            .as_array()
            .map(|rows| {
                rows.iter()
                    .filter_map(|r| r["object"]["metadata"]["name"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let next = table["metadata"]["continue"]
            .as_str()
            .filter(|t| !t.is_empty())
            .map(str::to_string);
        (names, next)
    }

    /// A GET of `ns/name` that must carry `key` = `value`.
    pub(crate) async fn get_value(
        &self,
        ns: &str,
        name: &str,
        key: &str,
        value: &[u8],
    ) -> Result<(), String> {
        let req = http::Request::get(format!("/api/v1/namespaces/{ns}/secrets/{name}"))
            .body(Vec::new())
            .unwrap();
        let secret: Value = self.client.request(req).await.map_err(|e| e.to_string())?;
        if secret["data"][key].as_str() == Some(b64(value).as_str()) {
            Ok(())
        } else {
            Err("direct GET without the value".into())
        }
    }

    pub(crate) async fn get_secret(&self) -> Result<(), String> {
        let req = http::Request::get(format!(
            "/api/v1/namespaces/{REVEAL_NS}/secrets/{REVEAL_SECRET}"
        ))
        .body(Vec::new())
        .unwrap();
        let secret: Value = self.client.request(req).await.map_err(|e| e.to_string())?;
        if secret["data"]["token"].as_str() == Some(b64(b"bench-value").as_str()) {
            Ok(())
        } else {
            Err("direct GET without the value".into())
        }
    }
}
