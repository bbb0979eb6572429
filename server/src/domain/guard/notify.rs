//! Announcements of guarded disclosures and of access requests, to the
//! configured webhooks: JSON with a Slack-compatible `text`, signed with
//! HMAC-SHA256 so a receiver can tell them from forgeries. Never a value:
//! names, keys, people, reasons and times only.
//!
//! Signature: `X-Strongroom-Signature: sha256=HEX`, the HMAC over
//! `TIMESTAMP.BODY`, where `TIMESTAMP` is `X-Strongroom-Timestamp` (Unix
//! seconds; a receiver refuses old ones to stop replays) and `BODY` the
//! exact bytes sent. `X-Strongroom-Delivery` is the event's id (the same
//! on retries, so a receiver can drop duplicates).
//!
//! Most announcements go through a bounded queue and are retried in the
//! background; a full queue drops (and counts) rather than grows. In a
//! `notify` namespace a disclosure waits for its announcement instead
//! ([`Notifier::deliver_now`]).

use std::{sync::Arc, time::Duration};

use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;
use tokio::sync::{Semaphore, mpsc};
use url::Url;

use super::approval::{Grant, Row, rfc3339};
use crate::{domain::audit::AuditScope, infra::metrics};

/// How many announcements wait at most.
const QUEUE: usize = 1000;
/// How many background deliveries run at once.
const PARALLEL: usize = 4;

/// One announcement.
#[derive(Clone, Debug, Serialize)]
pub struct Event {
    /// Unique per event (and the delivery id).
    pub id: String,
    /// `reveal`, `seal`, `export`, `access_requested`, `access_approved`,
    /// `access_denied`, `access_revoked`.
    #[serde(rename = "type")]
    pub kind: String,
    pub time: String,
    /// Who did it (the Kubernetes username).
    pub actor: String,
    pub namespace: String,
    pub secret: String,
    pub keys: Vec<String>,
    pub reason: Option<String>,
    /// The access request it is about, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request: Option<RequestFacts>,
    /// The audit record's id, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audit_id: Option<String>,
    /// One line for chat tools (Slack's and Mattermost's `text`).
    pub text: String,
}

/// What an announcement says about an access request.
#[derive(Clone, Debug, Serialize)]
pub struct RequestFacts {
    pub id: String,
    pub requester: String,
    pub status: String,
    pub valid_until: Option<String>,
    pub comment: Option<String>,
}

impl Event {
    /// A disclosure (`what`: reveal, seal, export) as the scope has it.
    pub fn disclosure(scope: &AuditScope, what: &str, grant: Option<&Grant>) -> Self {
        let place = format!("{}/{}", scope.namespace(), scope.secret());
        let mut text = format!(
            "{} {what}ed {place} ({})",
            scope.username(),
            if scope.keys().is_empty() {
                "all keys".to_string()
            } else {
                scope.keys().join(", ")
            }
        );
        if let Some(r) = scope.reason() {
            text.push_str(&format!(": {r}"));
        }
        Event {
            id: uuid::Uuid::now_v7().to_string(),
            kind: what.to_string(),
            time: now(),
            actor: scope.username().to_string(),
            namespace: scope.namespace().to_string(),
            secret: scope.secret().to_string(),
            keys: scope.keys().to_vec(),
            reason: scope.reason().map(String::from),
            request: grant.map(|g| RequestFacts {
                id: g.request.clone(),
                requester: scope.username().to_string(),
                status: "approved".into(),
                valid_until: Some(rfc3339(g.until)),
                comment: None,
            }),
            audit_id: Some(scope.id().to_string()),
            text: chat_text(&text),
        }
    }

    /// A step in an access request's life (`kind` without `access_`).
    pub fn request(kind: &str, actor: &str, row: &Row, audit_id: &str) -> Self {
        let place = format!("{}/{}", row.namespace, row.secret);
        let keys = row.keys();
        let text = match kind {
            "requested" => format!(
                "{actor} asks to reveal {place} ({}) for {}: {}",
                keys.join(", "),
                strongroom_app::api::guards::minutes(row.duration_secs.max(0) as u64),
                row.reason
            ),
            "approved" => format!(
                "{actor} approved {}'s access to {place} ({})",
                row.requester,
                keys.join(", ")
            ),
            "denied" => format!("{actor} denied {}'s access to {place}", row.requester),
            _ => format!("{actor} revoked {}'s access to {place}", row.requester),
        };
        let text = match &row.comment {
            Some(c) if kind != "requested" => format!("{text}: {c}"),
            _ => text,
        };
        Event {
            id: uuid::Uuid::now_v7().to_string(),
            kind: format!("access_{kind}"),
            time: now(),
            actor: actor.to_string(),
            namespace: row.namespace.clone(),
            secret: row.secret.clone(),
            keys,
            reason: Some(row.reason.clone()),
            request: Some(RequestFacts {
                id: row.id.clone(),
                requester: row.requester.clone(),
                status: row.status().as_str().to_string(),
                valid_until: row.valid_until.map(rfc3339),
                comment: row.comment.clone(),
            }),
            audit_id: Some(audit_id.to_string()),
            text: chat_text(&text),
        }
    }
}

/// `text` made safe for chat tools: Slack-style control sequences
/// (`<!channel>`, `<URL|label>`) escaped, line breaks and other control
/// characters turned into spaces, so a reason cannot ping, link or forge a
/// line of its own. The JSON's other fields keep the text as it was.
fn chat_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Where and how announcements go.
pub struct WebhookSettings {
    pub urls: Vec<Url>,
    pub secret: Vec<u8>,
    /// Per attempt.
    pub timeout: Duration,
    /// Attempts per delivery (at least one).
    pub attempts: u32,
}

/// Sends announcements. Cheap to clone; with no URL it sends nothing.
#[derive(Clone)]
pub struct Notifier {
    inner: Option<Arc<Inner>>,
    queue: Option<mpsc::Sender<Event>>,
}

struct Inner {
    urls: Vec<Url>,
    secret: Vec<u8>,
    attempts: u32,
    http: reqwest::Client,
}

impl Notifier {
    /// A notifier that sends nothing.
    pub fn disabled() -> Self {
        Self {
            inner: None,
            queue: None,
        }
    }

    /// A notifier for `s`, with its background worker.
    pub fn start(s: WebhookSettings) -> Result<Self, reqwest::Error> {
        if s.urls.is_empty() {
            return Ok(Self::disabled());
        }
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(s.timeout)
            .build()?;
        let inner = Arc::new(Inner {
            urls: s.urls,
            secret: s.secret,
            attempts: s.attempts.max(1),
            http,
        });
        let (tx, mut rx) = mpsc::channel::<Event>(QUEUE);
        let worker = inner.clone();
        tokio::spawn(async move {
            let slots = Arc::new(Semaphore::new(PARALLEL));
            while let Some(event) = rx.recv().await {
                let Ok(slot) = slots.clone().acquire_owned().await else {
                    break;
                };
                let worker = worker.clone();
                tokio::spawn(async move {
                    let _ = worker.deliver(&event, Duration::from_secs(1)).await;
                    drop(slot);
                });
            }
        });
        Ok(Self {
            inner: Some(inner),
            queue: Some(tx),
        })
    }

    /// Queues `event` for the background worker; a full queue drops it
    /// (counted and logged).
    pub fn enqueue(&self, event: Event) {
        let Some(queue) = &self.queue else { return };
        if let Err(e) = queue.try_send(event) {
            metrics::webhook("dropped");
            let event = match e {
                mpsc::error::TrySendError::Full(ev) | mpsc::error::TrySendError::Closed(ev) => ev,
            };
            tracing::warn!(event.id = %event.id, event.kind = %event.kind, "announcement dropped: the webhook queue is full");
        }
    }

    /// Delivers `event` to every webhook now, with retries; an error says
    /// which one failed.
    pub async fn deliver_now(&self, event: Event) -> Result<(), String> {
        match &self.inner {
            Some(inner) => inner.deliver(&event, Duration::from_millis(250)).await,
            None => Err("no webhook is configured".into()),
        }
    }
}

impl Inner {
    /// Every URL, each with retries (backoff from `first_wait`, doubling).
    async fn deliver(&self, event: &Event, first_wait: Duration) -> Result<(), String> {
        let body = serde_json::to_vec(event).expect("events serialize");
        let mut failed = None;
        for url in &self.urls {
            let mut wait = first_wait;
            let mut last = String::new();
            let mut ok = false;
            for attempt in 1..=self.attempts {
                match self.send(url, event, &body).await {
                    Ok(()) => {
                        ok = true;
                        break;
                    }
                    Err(why) => {
                        metrics::webhook("attempt_failed");
                        last = why;
                        if attempt < self.attempts {
                            tokio::time::sleep(wait).await;
                            wait *= 2;
                        }
                    }
                }
            }
            let host = url.host_str().unwrap_or("?").to_string();
            if ok {
                metrics::webhook("delivered");
            } else {
                metrics::webhook("failed");
                tracing::warn!(event.id = %event.id, event.kind = %event.kind, webhook.host = %host, error = %last, attempts = self.attempts, "announcement not delivered");
                failed = Some(format!("{host}: {last}"));
            }
        }
        failed.map_or(Ok(()), Err)
    }

    async fn send(&self, url: &Url, event: &Event, body: &[u8]) -> Result<(), String> {
        let timestamp = chrono::Utc::now().timestamp().to_string();
        let answer = self
            .http
            .post(url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("x-strongroom-event", &event.kind)
            .header("x-strongroom-delivery", &event.id)
            .header("x-strongroom-timestamp", &timestamp)
            .header(
                "x-strongroom-signature",
                signature(&self.secret, &timestamp, body),
            )
            .body(body.to_vec())
            .send()
            .await
            .map_err(|e| {
                if e.is_timeout() {
                    "timed out".to_string()
                } else if e.is_connect() {
                    "cannot connect".to_string()
                } else {
                    "request failed".to_string()
                }
            })?;
        if answer.status().is_success() {
            Ok(())
        } else {
            Err(format!("answered {}", answer.status().as_u16()))
        }
    }
}

/// `sha256=HEX(HMAC-SHA256(secret, "TIMESTAMP.BODY"))`.
pub fn signature(secret: &[u8], timestamp: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::signature;

    #[test]
    fn chat_text_cannot_ping_link_or_break_lines() {
        assert_eq!(
            super::chat_text("a <!channel> <https://x|y> & b\nc\u{85}d"),
            "a &lt;!channel&gt; &lt;https://x|y&gt; &amp; b c d"
        );
    }

    #[test]
    fn the_signature_covers_the_timestamp_and_the_body() {
        let a = signature(b"k", "100", b"{}");
        assert!(a.starts_with("sha256=") && a.len() == 7 + 64);
        assert_ne!(a, signature(b"k", "101", b"{}"));
        assert_ne!(a, signature(b"k", "100", b"{ }"));
        assert_ne!(a, signature(b"j", "100", b"{}"));
        assert_eq!(a, signature(b"k", "100", b"{}"));
    }
}
