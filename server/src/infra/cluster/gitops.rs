//! The GitOps verbs, as the handle's user: the sealed-secrets controller's
//! certificate through the API server's service proxy (what `kubeseal
//! --fetch-cert` asks for), creating a SealedSecret, and reading the object
//! a controller-owned secret comes from.

use http::Method;

use super::{KubeError, UserKube};

/// The largest certificate answer read from the controller.
pub const MAX_CERTIFICATE_BYTES: usize = 64 * 1024;

/// Where the sealed-secrets controller serves its certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Controller {
    pub namespace: String,
    /// The controller's Service.
    pub service: String,
    /// The Service's port, by name or number.
    pub port: String,
}

impl Default for Controller {
    fn default() -> Self {
        Controller {
            namespace: "kube-system".into(),
            service: "sealed-secrets-controller".into(),
            port: "http".into(),
        }
    }
}

impl std::fmt::Display for Controller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.namespace, self.service)
    }
}

fn request(method: Method, path: &str, body: Vec<u8>) -> Result<http::Request<Vec<u8>>, KubeError> {
    http::Request::builder()
        .method(method)
        .uri(path)
        .header(http::header::ACCEPT, "application/json, */*")
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(body)
        .map_err(|e| KubeError::Config(e.to_string()))
}

/// A path segment: the names here are checked by the caller; this only
/// keeps anything odd out of the URL.
fn segment(s: &str) -> Result<&str, KubeError> {
    if !s.is_empty()
        && s != "."
        && s != ".."
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
    {
        Ok(s)
    } else {
        Err(KubeError::Config(format!("{s:?} is not a valid name")))
    }
}

impl UserKube {
    /// The controller's sealing certificate (PEM), through the API server's
    /// service proxy, as this handle's user.
    pub async fn sealing_certificate(&self, controller: &Controller) -> Result<String, KubeError> {
        let path = format!(
            "/api/v1/namespaces/{}/services/{}:{}/proxy/v1/cert.pem",
            segment(&controller.namespace)?,
            segment(&controller.service)?,
            segment(&controller.port)?
        );
        let body = self
            .call_raw(request(Method::GET, &path, Vec::new())?)
            .await?;
        if body.len() > MAX_CERTIFICATE_BYTES {
            return Err(KubeError::Decode(format!(
                "the controller's certificate is larger than {MAX_CERTIFICATE_BYTES} bytes"
            )));
        }
        String::from_utf8(body.to_vec())
            .map_err(|_| KubeError::Decode("the controller's certificate is not text".into()))
    }

    /// Creates a namespaced custom object (`group/version`, `plural`) as
    /// this handle's user.
    pub async fn create_object(
        &self,
        api_version: &str,
        plural: &str,
        namespace: &str,
        object: &serde_json::Value,
    ) -> Result<serde_json::Value, KubeError> {
        let path = format!(
            "/apis/{api_version}/namespaces/{}/{}",
            segment(namespace)?,
            segment(plural)?
        );
        let body = serde_json::to_vec(object).map_err(|e| KubeError::Config(e.to_string()))?;
        self.call(request(Method::POST, &path, body)?).await
    }

    /// Reads a namespaced object (`group/version` or `v1`, `plural`) as this
    /// handle's user.
    pub async fn get_object(
        &self,
        api_version: &str,
        plural: &str,
        namespace: &str,
        name: &str,
    ) -> Result<serde_json::Value, KubeError> {
        let root = if api_version.contains('/') {
            "apis"
        } else {
            "api"
        };
        for part in api_version.split('/') {
            segment(part)?;
        }
        let path = format!(
            "/{root}/{api_version}/namespaces/{}/{}/{}",
            segment(namespace)?,
            segment(plural)?,
            segment(name)?
        );
        self.call(request(Method::GET, &path, Vec::new())?).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odd_names_never_reach_a_path() {
        assert!(segment("sealed-secrets-controller").is_ok());
        assert!(segment("8080").is_ok());
        for bad in ["", ".", "..", "a/b", "..%2f", "a b", "a?b"] {
            assert!(segment(bad).is_err(), "{bad}");
        }
    }
}
