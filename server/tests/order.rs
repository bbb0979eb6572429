//! Audit before answer, in process (docs/ARCHITECTURE.md, invariant 4):
//! the domain operations run against a recording Kubernetes transport
//! (`kube::Client` over a `tower::service_fn`, behind the real impersonation
//! guard) and a real SQLite audit store that can be made to fail. They
//! complement the real-stack tests (`secrets.rs`, `faults.rs`): these pin
//! the order of record and answer without a cluster.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use base64::Engine;
use http::{Method, Request, Response, StatusCode};
use kube::client::Body;
use strongroom_app::api::{CreateSecretRequest, DataEntry, SecretInput};
use strongroom_server::{
    domain::{
        audit::{
            Action, AuditScope, AuditSettings, AuditStore, ChainKey, Outcome,
            facts::RequestFacts,
            store::{AuditKeys, AuditQuery},
        },
        auth::CurrentUser,
        secrets::{
            SecretsError, create,
            reveal::{self, RevealPolicy, RevealRequest},
        },
    },
    infra::{cluster::KubeAccess, db::Db},
    web::AppError,
};

const VALUE: &[u8] = b"hunter2-in-process";

/// What the fake API server saw: method, path, impersonated user, audit id.
#[derive(Clone, Debug)]
struct Seen {
    method: Method,
    path: String,
    user: Option<String>,
    audit_id: Option<String>,
}

fn secret_json(name: &str) -> serde_json::Value {
    let b64 = base64::engine::general_purpose::STANDARD.encode(VALUE);
    serde_json::json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": name, "namespace": "team-a", "resourceVersion": "7"},
        "type": "Opaque",
        "data": {"password": b64},
    })
}

/// A recording API server. `status` answers every request; `on_write` runs
/// when a write arrives (to break the audit store mid-request).
fn transport(status: StatusCode, seen: Arc<Mutex<Vec<Seen>>>, on_write: Option<Db>) -> KubeAccess {
    let service = tower::service_fn(move |req: Request<Body>| {
        let seen = seen.clone();
        let on_write = on_write.clone();
        let (parts, _body) = req.into_parts();
        let header = |n: &str| {
            parts
                .headers
                .get(n)
                .map(|v| v.to_str().unwrap().to_string())
        };
        let saw = Seen {
            method: parts.method.clone(),
            path: parts.uri.path().to_string(),
            user: header("impersonate-user"),
            audit_id: header("impersonate-extra-strongroom.dev%2faudit-id"),
        };
        let method = parts.method.clone();
        async move {
            seen.lock().unwrap().push(saw);
            if method != Method::GET
                && let Some(db) = on_write
            {
                db.close().await;
            }
            let body = if status.is_success() {
                secret_json("db").to_string()
            } else {
                serde_json::json!({"kind": "Status", "reason": "Forbidden", "message": "no", "code": status.as_u16()}).to_string()
            };
            Ok::<_, std::convert::Infallible>(
                Response::builder()
                    .status(if method == Method::POST && status.is_success() {
                        StatusCode::CREATED
                    } else {
                        status
                    })
                    .header("content-type", "application/json")
                    .body(Body::from(body.into_bytes()))
                    .unwrap(),
            )
        }
    });
    KubeAccess::over(service, Duration::from_secs(5))
}

async fn store() -> (AuditStore, Db) {
    let dir = std::env::temp_dir().join(format!(
        "strongroom-order-{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    ));
    let db = Db::connect(&format!("sqlite://{}/audit.db", dir.display()))
        .await
        .unwrap();
    let settings = AuditSettings {
        database: true,
        stdout: false,
        database_required: true,
        stdout_required: false,
        timeout: Duration::from_secs(5),
        cluster: "test".into(),
    };
    let keys = AuditKeys {
        fingerprint: b"k".to_vec(),
        chain: ChainKey::new(b"chain".to_vec()),
    };
    let store = AuditStore::open(db.clone(), settings, keys).await.unwrap();
    (store, db)
}

fn alice() -> CurrentUser {
    CurrentUser {
        username: "oidc:alice@example.com".into(),
        groups: vec!["oidc:team-a-editors".into()],
        uid: Some("alice".into()),
        name: None,
        auth_time: None,
    }
}

fn scope(store: &AuditStore, action: Action, name: &str) -> AuditScope {
    AuditScope::new(
        store,
        RequestFacts::default(),
        &alice(),
        action,
        "team-a",
        name,
    )
}

#[tokio::test]
async fn a_value_is_answered_only_with_the_receipt_of_its_committed_record() {
    let (store, _db) = store().await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let kube = transport(StatusCode::OK, seen.clone(), None).for_user(alice().identity());
    let scope = scope(&store, Action::Reveal, "db");
    let id = scope.id().to_string();
    let audited = reveal::reveal(
        &kube,
        scope,
        RevealPolicy::default(),
        "team-a",
        "db",
        RevealRequest::default(),
    )
    .await
    .expect("revealed");
    assert_eq!(audited.receipt().id(), id);
    // By the time the answer exists, its record is in the store, with the
    // value's fingerprint and not the value.
    let records = store.query(&AuditQuery::default()).await.unwrap();
    assert_eq!(records.len(), 1);
    let record = &records[0];
    assert_eq!(record.event.id, id);
    assert_eq!(record.seq, audited.receipt().seq());
    assert_eq!(record.event.outcome, Outcome::Allowed);
    assert_eq!(record.event.fingerprints.len(), 1);
    let stored = serde_json::to_string(record).unwrap();
    assert!(!stored.contains("hunter2"));
    let answer = serde_json::to_value(audited.into_answer()).unwrap();
    assert_eq!(answer["audit_id"], id);
    assert_eq!(answer["values"][0]["text"], "hunter2-in-process");
    // The API server saw one impersonated GET carrying the record's id.
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].method, Method::GET);
    assert_eq!(seen[0].path, "/api/v1/namespaces/team-a/secrets/db");
    assert_eq!(seen[0].user.as_deref(), Some("oidc:alice@example.com"));
    assert_eq!(seen[0].audit_id.as_deref(), Some(id.as_str()));
}

#[tokio::test]
async fn an_audit_store_that_cannot_commit_means_503_and_no_value() {
    let (store, db) = store().await;
    db.close().await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let kube = transport(StatusCode::OK, seen.clone(), None).for_user(alice().identity());
    let err = reveal::reveal(
        &kube,
        scope(&store, Action::Reveal, "db"),
        RevealPolicy::default(),
        "team-a",
        "db",
        RevealRequest::default(),
    )
    .await
    .expect_err("no record, no value");
    assert!(matches!(err, SecretsError::AuditUnavailable(_)), "{err:?}");
    let shown = format!("{err:?} {err}");
    assert!(!shown.contains("hunter2"), "{shown}");
    let http = AppError::from(err);
    assert_eq!(http.status_code(), 503);
    assert!(http.to_string().contains("nothing was revealed or changed"));
    assert!(!http.to_string().contains("hunter2"));
}

#[tokio::test]
async fn a_create_whose_record_fails_is_refused_before_kubernetes_is_asked() {
    let (store, db) = store().await;
    db.close().await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let kube = transport(StatusCode::OK, seen.clone(), None).for_user(alice().identity());
    let err = create::create(
        &kube,
        scope(&store, Action::Create, "db"),
        "team-a",
        &request(),
    )
    .await
    .expect_err("refused");
    assert!(matches!(err, SecretsError::AuditUnavailable(_)), "{err:?}");
    assert!(seen.lock().unwrap().is_empty(), "nothing was sent");
}

fn request() -> CreateSecretRequest {
    CreateSecretRequest {
        name: "db".into(),
        input: SecretInput::Generic {
            entries: vec![DataEntry {
                key: "password".into(),
                value: base64::engine::general_purpose::STANDARD.encode(VALUE),
            }],
        },
        labels: Default::default(),
        annotations: Default::default(),
        immutable: false,
    }
}

#[tokio::test]
async fn a_change_made_but_not_recorded_says_so_with_its_reference() {
    let (store, db) = store().await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    // The store answers the preflight, then dies while Kubernetes creates.
    let kube = transport(StatusCode::OK, seen.clone(), Some(db)).for_user(alice().identity());
    let scope = scope(&store, Action::Create, "db");
    let id = scope.id().to_string();
    let err = create::create(&kube, scope, "team-a", &request())
        .await
        .expect_err("not recorded");
    match &err {
        SecretsError::NotRecorded { audit_id, .. } => assert_eq!(*audit_id, id),
        other => panic!("expected NotRecorded, got {other:?}"),
    }
    let http = AppError::from(err);
    assert_eq!(http.code(), "change_not_recorded");
    let message = http.to_string();
    assert!(message.contains("was created"), "{message}");
    assert!(message.contains(&id), "the reference: {message}");
    assert!(
        !message.contains("nothing was"),
        "never 'nothing was changed': {message}"
    );
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].method, Method::POST);
}

#[tokio::test]
async fn a_refused_reveal_is_recorded_as_denied_and_answers_403() {
    let (store, _db) = store().await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let kube = transport(StatusCode::FORBIDDEN, seen, None).for_user(alice().identity());
    let err = reveal::reveal(
        &kube,
        scope(&store, Action::Reveal, "db"),
        RevealPolicy::default(),
        "team-a",
        "db",
        RevealRequest::default(),
    )
    .await
    .expect_err("forbidden");
    assert_eq!(AppError::from(err).status_code(), 403);
    let records = store.query(&AuditQuery::default()).await.unwrap();
    assert_eq!(records.len(), 1, "exactly one record per outcome");
    assert_eq!(records[0].event.outcome, Outcome::Denied);
    assert_eq!(records[0].event.status, Some(403));
}

#[tokio::test]
async fn the_guard_refuses_an_identity_that_is_not_one() {
    let (store, _db) = store().await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let mut nobody = alice().identity();
    nobody.username = " ".into();
    let kube = transport(StatusCode::OK, seen.clone(), None).for_user(nobody);
    let err = reveal::reveal(
        &kube,
        scope(&store, Action::Reveal, "db"),
        RevealPolicy::default(),
        "team-a",
        "db",
        RevealRequest::default(),
    )
    .await
    .expect_err("never sent");
    assert!(!format!("{err:?}").contains("hunter2"));
    assert!(seen.lock().unwrap().is_empty(), "the transport saw nothing");
}
