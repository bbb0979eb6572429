//! Audit before answer, as types (invariant 4 in `docs/ARCHITECTURE.md`).
//!
//! - An [`AuditScope`] is one operation's audit record in the making: who,
//!   from where, which action on which secret. [`AuditScope::record`]
//!   commits it and consumes the scope, so an operation records at most
//!   once.
//! - A [`Receipt`] is the proof that a record was committed. Its fields are
//!   private and it has no public constructor: only `record` makes one.
//! - An [`Audited`] answer (a revealed value, a change report) can only be
//!   built from a receipt, and the edge turns only `Audited` answers of the
//!   secret operations into responses. A handler that skips the record has
//!   no receipt, so it has no `Audited` to return: it does not compile.

use super::{Action, AuditError, AuditStore, Fingerprint, Outcome, facts::RequestFacts};
use crate::domain::auth::CurrentUser;

/// The most keys a refusal's record lists.
const MAX_RECORDED_KEYS: usize = 64;

/// One operation's audit record, before it is committed.
#[must_use = "an operation that reaches Kubernetes records its outcome"]
pub struct AuditScope {
    store: AuditStore,
    id: String,
    facts: RequestFacts,
    username: String,
    groups: Vec<String>,
    action: Action,
    namespace: String,
    secret: String,
    keys: Vec<String>,
    reason: Option<String>,
    before: Vec<Fingerprint>,
}

impl std::fmt::Debug for AuditScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditScope")
            .field("id", &self.id)
            .field("action", &self.action)
            .field("namespace", &self.namespace)
            .field("secret", &self.secret)
            .finish_non_exhaustive()
    }
}

impl AuditScope {
    /// A scope for `user` doing `action` on `namespace/secret`, with a new
    /// record id (a UUIDv7, so ids sort by time).
    pub fn new(
        store: &AuditStore,
        facts: RequestFacts,
        user: &CurrentUser,
        action: Action,
        namespace: &str,
        secret: &str,
    ) -> Self {
        Self {
            store: store.clone(),
            id: uuid::Uuid::now_v7().to_string(),
            facts,
            username: user.username.clone(),
            groups: user.groups.clone(),
            action,
            namespace: namespace.to_string(),
            secret: secret.to_string(),
            keys: Vec::new(),
            reason: None,
            before: Vec::new(),
        }
    }

    /// The id the record will have; it also travels to the API server.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The keys the operation is about.
    /// The user the record is about.
    pub fn username(&self) -> &str {
        &self.username
    }

    /// The namespace the record is about.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The secret the record is about.
    pub fn secret(&self) -> &str {
        &self.secret
    }

    /// The keys recorded so far.
    pub fn keys(&self) -> &[String] {
        &self.keys
    }

    /// The reason recorded so far.
    pub fn reason(&self) -> Option<&str> {
        self.reason.as_deref()
    }

    pub fn set_keys(&mut self, keys: Vec<String>) {
        self.keys = keys;
    }

    /// The reason the person gave (or why the operation was refused).
    pub fn set_reason(&mut self, reason: Option<String>) {
        self.reason = reason;
    }

    /// For a change: the fingerprints of the values before it.
    pub fn set_before(&mut self, before: Vec<Fingerprint>) {
        self.before = before;
    }

    /// Fingerprints of all of `data`'s values, in key order, at most
    /// [`super::MAX_FINGERPRINTS`].
    pub fn fingerprint_all<'a>(
        &self,
        data: impl IntoIterator<Item = (&'a String, &'a [u8])>,
    ) -> Vec<Fingerprint> {
        let mut all: Vec<_> = data.into_iter().collect();
        all.sort_by(|a, b| a.0.cmp(b.0));
        all.into_iter()
            .take(super::MAX_FINGERPRINTS)
            .map(|(k, v)| self.fingerprint(k, v))
            .collect()
    }

    /// Checks that a required sink can commit right now, before a change is
    /// made, so that a change is refused up front rather than made
    /// unaudited.
    pub async fn preflight(&self) -> Result<(), AuditError> {
        self.store.preflight().await
    }

    /// Keyed fingerprints of values, for a record that shows which values
    /// were seen without holding them.
    pub fn fingerprint(&self, key: &str, value: &[u8]) -> Fingerprint {
        Fingerprint {
            key: key.to_string(),
            hmac: self
                .store
                .fingerprinter()
                .scoped(&self.namespace, &self.secret, key, value),
        }
    }

    /// Commits the record with its outcome. Consumes the scope: one
    /// operation, one record.
    pub(in crate::domain) async fn record(
        self,
        outcome: Outcome,
        status: Option<u16>,
        fingerprints: Vec<Fingerprint>,
    ) -> Result<Receipt, AuditError> {
        let event = super::AuditEvent {
            id: self.id,
            time: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            request_id: self.facts.request_id,
            user: self.username,
            groups: self.groups,
            source_ip: self.facts.source_ip,
            user_agent: self.facts.user_agent,
            action: self.action,
            cluster: self.store.cluster().to_string(),
            namespace: self.namespace,
            secret: self.secret,
            keys: self.keys,
            outcome,
            status,
            fingerprints,
            before: self.before,
            reason: self.reason,
        };
        let record = self.store.append(event).await?;
        Ok(Receipt {
            id: record.event.id,
            seq: record.seq,
        })
    }
}

impl AuditScope {
    /// Commits the record of an operation that was refused or failed: its
    /// answer is an error, which carries nothing that needs a receipt.
    ///
    /// Refusals are bounded per user ([`super::budget`]): beyond the budget
    /// they are counted, not written, and the count goes into the user's
    /// next recorded refusal.
    pub async fn record_refusal(
        mut self,
        outcome: Outcome,
        status: Option<u16>,
    ) -> Result<(), AuditError> {
        use super::budget::Decision;
        match self
            .store
            .refusals()
            .refusal(&self.username, std::time::Instant::now())
        {
            Decision::Count => {
                tracing::warn!(user.name = %self.username, secret.namespace = %self.namespace, secret.name = %self.secret, action = self.action.as_str(), "refusal counted, not recorded: over the per-minute budget");
                return Ok(());
            }
            Decision::Record { unrecorded } if unrecorded > 0 => {
                let note = format!(
                    "{unrecorded} more refusals of this user before this one were counted, not recorded one by one"
                );
                self.reason = Some(match self.reason.take() {
                    Some(r) => format!("{r}; {note}"),
                    None => note,
                });
            }
            Decision::Record { .. } => {}
        }
        // A refusal records at most this many of the keys asked for, and
        // no fingerprints.
        self.keys.truncate(MAX_RECORDED_KEYS);
        self.before.clear();
        self.record(outcome, status, vec![]).await.map(drop)
    }
}

/// Proof that an audit record was committed. Only [`AuditScope::record`]
/// makes one; it is neither `Clone` nor constructible elsewhere.
#[derive(Debug)]
#[must_use]
pub struct Receipt {
    id: String,
    seq: i64,
}

impl Receipt {
    /// The committed record's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The committed record's place in the chain (0 when only a sink
    /// without a chain, stdout, took it).
    pub fn seq(&self) -> i64 {
        self.seq
    }
}

/// An answer that may leave the server because its audit record is
/// committed: the answer and the receipt of its record, together.
#[derive(Debug)]
#[must_use]
pub struct Audited<T> {
    receipt: Receipt,
    answer: T,
}

impl<T> Audited<T> {
    /// Binds an answer to the receipt of its committed record (only the
    /// domain's operations do).
    pub(in crate::domain) fn new(receipt: Receipt, answer: T) -> Self {
        Self { receipt, answer }
    }

    /// The receipt of the answer's record.
    pub fn receipt(&self) -> &Receipt {
        &self.receipt
    }

    /// The answer, for the edge to send.
    pub fn into_answer(self) -> T {
        self.answer
    }

    /// Another answer under the same receipt (the edge's wire form of the
    /// domain's answer, say).
    pub fn map<U>(self, f: impl FnOnce(T, &Receipt) -> U) -> Audited<U> {
        let answer = f(self.answer, &self.receipt);
        Audited {
            receipt: self.receipt,
            answer,
        }
    }
}
