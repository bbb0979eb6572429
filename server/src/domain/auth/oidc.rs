//! The OpenID Connect relying party: discovery (cached, retried while the IdP
//! is down), the authorization request (code + PKCE S256 + state + nonce),
//! the code exchange and ID token verification, and RP-initiated logout.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use base64::Engine;
use openidconnect::{
    AuthenticationFlow, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet,
    EndpointNotSet, EndpointSet, IssuerUrl, LogoutRequest, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, PkceCodeVerifier, PostLogoutRedirectUrl, ProviderMetadataWithLogout,
    RedirectUrl, Scope, TokenResponse,
    core::{CoreClient, CoreIdToken, CoreResponseType},
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tokio::sync::RwLock;
use url::Url;

/// How long discovery results (endpoints, signing keys) are reused.
const DISCOVERY_TTL: Duration = Duration::from_secs(300);

type Client = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// Errors of the sign-in flow.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    /// Discovery or the token endpoint could not be reached.
    #[error("the sign-in service at {issuer} cannot be reached: {reason}")]
    Unreachable { issuer: String, reason: String },
    /// The callback does not belong to a login this session started.
    #[error(
        "this sign-in attempt does not match the one your browser started; please sign in again"
    )]
    StateMismatch,
    /// The IdP refused the code (replayed, expired, or for another client).
    #[error("the sign-in service refused the login: {0}")]
    Exchange(String),
    /// The ID token failed verification (signature, issuer, audience, expiry, nonce).
    #[error("the identity token could not be verified: {0}")]
    InvalidToken(String),
    /// The IdP sent the user back with an error.
    #[error("the sign-in service reported an error: {0}")]
    Provider(String),
}

/// A login in progress, kept in the pre-login session.
#[derive(Serialize, Deserialize)]
pub struct PendingLogin {
    state: String,
    nonce: String,
    pkce_verifier: String,
    /// Where to go after sign-in (a validated same-origin path).
    pub next: String,
    /// A step-up sign-in: the IdP was asked to authenticate the user again
    /// (`max_age=0`), and the ID token's `auth_time` must be at most this
    /// many seconds old at the callback.
    #[serde(default)]
    pub max_age: Option<u64>,
}

/// The result of a successful code exchange.
pub struct VerifiedLogin {
    /// The verified claims of the ID token.
    pub claims: Map<String, Value>,
    /// What re-validates the identity later at the IdP.
    pub tokens: IdpTokens,
}

/// The tokens that let Strongroom ask the IdP, later, whether it still
/// accepts the user and with which claims (the userinfo endpoint, and the
/// refresh token when the access token has expired). `Debug` hides them.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdpTokens {
    pub access: Option<String>,
    pub refresh: Option<String>,
}

impl std::fmt::Debug for IdpTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdpTokens")
            .field("access", &self.access.as_ref().map(|_| "[redacted]"))
            .field("refresh", &self.refresh.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

/// What the IdP says of a signed-in user now.
#[derive(Debug)]
pub enum Revalidation {
    /// It accepts them; these are their claims now (and maybe new tokens).
    Accepted {
        claims: Map<String, Value>,
        tokens: IdpTokens,
    },
    /// It no longer accepts them (token revoked, account disabled).
    Refused(String),
    /// It could not be asked (down, no userinfo endpoint).
    Unknown(String),
}

struct Provider {
    client: Client,
    end_session: Option<Url>,
    userinfo: Option<Url>,
    fetched: Instant,
}

/// The relying party. Cheap to clone.
#[derive(Clone)]
pub struct Oidc {
    issuer: Url,
    client_id: String,
    client_secret: Option<String>,
    redirect: Url,
    post_logout: Url,
    scopes: Vec<String>,
    http: reqwest::Client,
    provider: Arc<RwLock<Option<Arc<Provider>>>>,
}

impl Oidc {
    pub fn new(
        issuer: Url,
        client_id: String,
        client_secret: Option<String>,
        redirect: Url,
        post_logout: Url,
        scopes: &str,
    ) -> Result<Self, reqwest::Error> {
        // Redirects are never followed on back-channel calls (SSRF hardening,
        // as the openidconnect docs advise).
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .build()?;
        Ok(Self {
            issuer,
            client_id,
            client_secret,
            redirect,
            post_logout,
            scopes: scopes
                .split_whitespace()
                .filter(|s| *s != "openid")
                .map(str::to_string)
                .collect(),
            http,
            provider: Arc::default(),
        })
    }

    fn unreachable(&self, reason: impl std::fmt::Display) -> OidcError {
        OidcError::Unreachable {
            issuer: self.issuer.to_string(),
            reason: reason.to_string(),
        }
    }

    /// The discovered provider, from cache or freshly fetched.
    async fn provider(&self, refresh: bool) -> Result<Arc<Provider>, OidcError> {
        if !refresh
            && let Some(p) = self.provider.read().await.as_ref()
            && p.fetched.elapsed() < DISCOVERY_TTL
        {
            return Ok(p.clone());
        }
        let issuer = IssuerUrl::new(self.issuer.as_str().trim_end_matches('/').to_string())
            .map_err(|e| self.unreachable(e))?;
        let metadata = ProviderMetadataWithLogout::discover_async(issuer, &self.http)
            .await
            .map_err(|e| self.unreachable(error_chain(&e)))?;
        let userinfo = metadata.userinfo_endpoint().map(|u| u.url().clone());
        let end_session = metadata
            .additional_metadata()
            .end_session_endpoint
            .as_ref()
            .map(|u| u.url().clone());
        let client = CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(self.client_id.clone()),
            self.client_secret.clone().map(ClientSecret::new),
        )
        .set_redirect_uri(RedirectUrl::from_url(self.redirect.clone()));
        let provider = Arc::new(Provider {
            client,
            end_session,
            userinfo,
            fetched: Instant::now(),
        });
        *self.provider.write().await = Some(provider.clone());
        Ok(provider)
    }

    /// Starts a login: the URL to send the browser to, and what the session
    /// must remember to finish it. A step-up (`Some(window)`) asks the IdP to
    /// authenticate the user again now (`max_age=0`), and the ID token's
    /// `auth_time` must then lie within `window` of the callback.
    pub async fn begin(
        &self,
        next: String,
        step_up: Option<Duration>,
    ) -> Result<(Url, PendingLogin), OidcError> {
        let provider = self.provider(false).await?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = provider.client.authorize_url(
            AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        );
        for scope in &self.scopes {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        if step_up.is_some() {
            request = request.set_max_age(Duration::ZERO);
        }
        let (url, state, nonce) = request.set_pkce_challenge(challenge).url();
        Ok((
            url,
            PendingLogin {
                state: state.secret().clone(),
                nonce: nonce.secret().clone(),
                pkce_verifier: verifier.secret().clone(),
                next,
                max_age: step_up.map(|a| a.as_secs()),
            },
        ))
    }

    /// Finishes a login: checks `state`, exchanges the code with the PKCE
    /// verifier, verifies the ID token against the session's nonce.
    pub async fn finish(
        &self,
        pending: &PendingLogin,
        code: &str,
        state: &str,
    ) -> Result<VerifiedLogin, OidcError> {
        if !constant_time_eq(pending.state.as_bytes(), state.as_bytes()) {
            return Err(OidcError::StateMismatch);
        }
        let provider = self.provider(false).await?;
        let response = provider
            .client
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .map_err(|e| OidcError::Exchange(e.to_string()))?
            .set_pkce_verifier(PkceCodeVerifier::new(pending.pkce_verifier.clone()))
            .request_async(&self.http)
            .await
            .map_err(|e| match e {
                openidconnect::RequestTokenError::Request(inner) => {
                    self.unreachable(error_chain(&inner))
                }
                other => OidcError::Exchange(error_chain(&other)),
            })?;
        let id_token = response
            .id_token()
            .ok_or_else(|| OidcError::InvalidToken("the token response has no ID token".into()))?;
        let nonce = Nonce::new(pending.nonce.clone());
        if let Err(first) = id_token.claims(&provider.client.id_token_verifier(), &nonce) {
            // The IdP may have rotated its keys since discovery: refetch once.
            let fresh = self.provider(true).await?;
            id_token
                .claims(&fresh.client.id_token_verifier(), &nonce)
                .map_err(|_| OidcError::InvalidToken(first.to_string()))?;
        }
        Ok(VerifiedLogin {
            claims: verified_payload(id_token)?,
            tokens: IdpTokens {
                access: Some(response.access_token().secret().clone()),
                refresh: response.refresh_token().map(|t| t.secret().clone()),
            },
        })
    }

    /// Asks the IdP whether it still accepts the user of `tokens`, and with
    /// which claims: the userinfo endpoint with the access token, and when
    /// that has expired, the refresh token first. The answer's `sub` must be
    /// `subject` (the ID token's), as OpenID Connect requires.
    pub async fn revalidate(&self, tokens: &IdpTokens, subject: Option<&str>) -> Revalidation {
        let provider = match self.provider(false).await {
            Ok(p) => p,
            Err(e) => return Revalidation::Unknown(e.to_string()),
        };
        let Some(userinfo) = provider.userinfo.clone() else {
            return Revalidation::Unknown("the IdP has no userinfo endpoint".into());
        };
        let mut tokens = tokens.clone();
        for attempt in 0..2 {
            if let Some(access) = &tokens.access {
                match self.userinfo(&userinfo, access).await {
                    Ok(claims) => {
                        let sub = claims.get("sub").and_then(Value::as_str);
                        if subject.is_some() && sub != subject {
                            return Revalidation::Refused("userinfo names another subject".into());
                        }
                        return Revalidation::Accepted { claims, tokens };
                    }
                    Err(UserinfoError::Rejected(why))
                        if attempt == 0 && tokens.refresh.is_some() =>
                    {
                        tracing::debug!(reason = %why, "access token refused; refreshing");
                    }
                    Err(UserinfoError::Rejected(why)) => return Revalidation::Refused(why),
                    Err(UserinfoError::Unreachable(why)) => return Revalidation::Unknown(why),
                }
            }
            let Some(refresh) = tokens.refresh.clone() else {
                return Revalidation::Refused("no token left to ask the IdP with".into());
            };
            let refresh = openidconnect::RefreshToken::new(refresh);
            let request = match provider.client.exchange_refresh_token(&refresh) {
                Ok(r) => r,
                Err(e) => return Revalidation::Unknown(e.to_string()),
            };
            match request.request_async(&self.http).await {
                Ok(fresh) => {
                    tokens.access = Some(fresh.access_token().secret().clone());
                    if let Some(r) = fresh.refresh_token() {
                        tokens.refresh = Some(r.secret().clone());
                    }
                }
                // The IdP said no (invalid_grant: revoked, expired, disabled).
                Err(e @ openidconnect::RequestTokenError::ServerResponse(_)) => {
                    return Revalidation::Refused(error_chain(&e));
                }
                // Unreachable, or an answer that is not one: ask again later.
                Err(other) => return Revalidation::Unknown(error_chain(&other)),
            }
        }
        Revalidation::Refused("the IdP refused the refreshed token".into())
    }

    async fn userinfo(&self, url: &Url, access: &str) -> Result<Map<String, Value>, UserinfoError> {
        let answer = self
            .http
            .get(url.clone())
            .bearer_auth(access)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| UserinfoError::Unreachable(error_chain(&e)))?;
        let status = answer.status();
        // 4xx but 408/429: the IdP refuses the token (or the user); 5xx,
        // 408 and 429 only say "not now".
        if status.is_client_error()
            && status != reqwest::StatusCode::REQUEST_TIMEOUT
            && status != reqwest::StatusCode::TOO_MANY_REQUESTS
        {
            return Err(UserinfoError::Rejected(format!(
                "userinfo answered {status}"
            )));
        }
        if !status.is_success() {
            return Err(UserinfoError::Unreachable(format!(
                "userinfo answered {status}"
            )));
        }
        answer
            .json()
            .await
            .map_err(|e| UserinfoError::Unreachable(format!("userinfo is not JSON: {e}")))
    }

    /// Where to send the browser to end the IdP session too, if the IdP
    /// offers RP-initiated logout.
    pub async fn logout_url(&self, id_token: Option<&str>) -> Option<Url> {
        let provider = self.provider(false).await.ok()?;
        let endpoint = provider.end_session.clone()?;
        let mut request = LogoutRequest::from(openidconnect::EndSessionUrl::from_url(endpoint))
            .set_client_id(ClientId::new(self.client_id.clone()))
            .set_post_logout_redirect_uri(PostLogoutRedirectUrl::from_url(
                self.post_logout.clone(),
            ));
        if let Some(raw) = id_token
            && let Ok(token) = serde_json::from_value::<CoreIdToken>(Value::String(raw.to_string()))
        {
            request = request.set_id_token_hint(&token);
        }
        Some(request.http_get_url())
    }

    /// Checks that discovery works (used by `/readyz`-style diagnostics).
    pub async fn reachable(&self) -> bool {
        self.provider(false).await.is_ok()
    }
}

/// The payload of an ID token whose signature and claims were just verified,
/// with all its claims (custom ones such as `groups` included).
fn verified_payload(token: &CoreIdToken) -> Result<Map<String, Value>, OidcError> {
    let raw = token.to_string();
    let payload = raw
        .split('.')
        .nth(1)
        .ok_or_else(|| OidcError::InvalidToken("not a compact JWS".into()))?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .map_err(|e| OidcError::InvalidToken(e.to_string()))?;
    serde_json::from_slice(&bytes).map_err(|e| OidcError::InvalidToken(e.to_string()))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

enum UserinfoError {
    Rejected(String),
    Unreachable(String),
}

/// An error with its causes, on one line.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_time_eq_compares_whole_values() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
    }
}
