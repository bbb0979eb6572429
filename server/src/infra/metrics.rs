//! Prometheus metrics at `/metrics` (text format 0.0.4), kept with the
//! Prometheus org's `prometheus-client`: HTTP request latency per route
//! template, Kubernetes API calls (latency, errors), audit writes (latency,
//! failures) per sink, webhook outcomes, reveal rate-limit refusals, signed-in
//! sessions, and two gauges over bounded maps (secrets overdue for rotation,
//! secrets with expiring certificates, per namespace).
//!
//! No label ever holds a secret's name or value, a user or a raw path: routes
//! are axum's templates (`/api/v1/namespaces/{ns}/secrets/{name}`), the
//! Kubernetes resource comes from a fixed list, error classes are status
//! codes. The one label from the cluster is the namespace of the two
//! per-namespace gauges, which is bounded (`MAX_NAMESPACES`).

use std::{
    collections::BTreeMap,
    sync::{LazyLock, Mutex},
    time::{Duration, Instant},
};

use prometheus_client::{
    collector::Collector,
    encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric},
    metrics::{counter::Counter, family::Family, gauge::ConstGauge, histogram::Histogram},
    registry::{Registry, Unit},
};

/// The `Content-Type` of [`render`]'s text.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// Upper bounds (seconds) of the latency histograms' buckets: from 5 ms (a
/// cached page) to 60 s (the default request timeout).
const LATENCY_BUCKETS: [f64; 13] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];
/// Buckets of the audit commit histogram: a group commit usually takes a
/// few milliseconds; the audit timeout is seconds.
const AUDIT_BUCKETS: [f64; 13] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// How long a secret seen overdue (or fine) counts in the rotation gauge
/// without being seen again: deleted secrets leave it by themselves.
const SEEN_FOR: Duration = Duration::from_secs(24 * 3600);
/// The most secrets per namespace the rotation gauge tracks.
const MAX_TRACKED: usize = 100_000;
/// The most namespaces the per-namespace gauges name; more are not shown
/// (a cluster with more namespaces than this has other dashboards).
const MAX_NAMESPACES: usize = 10_000;
/// The most sessions the sessions gauge tracks on one replica.
const MAX_SESSIONS: usize = 100_000;

/// The HTTP methods named as such; any other is `other`.
const METHODS: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

/// The Kubernetes resources Strongroom calls, the only values of the
/// `resource` label; any other path is `other`.
const RESOURCES: [&str; 16] = [
    "secrets",
    "namespaces",
    "selfsubjectaccessreviews",
    "pods",
    "deployments",
    "statefulsets",
    "daemonsets",
    "replicasets",
    "cronjobs",
    "jobs",
    "serviceaccounts",
    "ingresses",
    "services",
    "sealedsecrets",
    "externalsecrets",
    "certificates",
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SinkLabels {
    sink: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    route: String,
    method: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KubeLabels {
    verb: &'static str,
    resource: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KubeErrorLabels {
    verb: &'static str,
    resource: &'static str,
    class: String,
}

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

fn latency() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

fn audit_latency() -> Histogram {
    Histogram::new(AUDIT_BUCKETS)
}

/// Every metric, registered once.
struct Metrics {
    registry: Registry,
    http_duration: Histograms<HttpLabels>,
    kube_duration: Histograms<KubeLabels>,
    kube_errors: Family<KubeErrorLabels, Counter>,
    kube_read_retries: Counter,
    audit_writes: Family<SinkLabels, Counter>,
    audit_failures: Family<SinkLabels, Counter>,
    audit_duration: Histograms<SinkLabels>,
    webhook_deliveries: Family<OutcomeLabels, Counter>,
    webhook_attempt_failures: Counter,
    reveal_rate_limited: Counter,
}

static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

impl Metrics {
    fn new() -> Self {
        let mut registry = Registry::with_prefix("strongroom");
        let http_duration: Histograms<HttpLabels> = Family::new_with_constructor(latency);
        let kube_duration: Histograms<KubeLabels> = Family::new_with_constructor(latency);
        let kube_errors = Family::<KubeErrorLabels, Counter>::default();
        let kube_read_retries = Counter::default();
        let audit_writes = Family::<SinkLabels, Counter>::default();
        let audit_failures = Family::<SinkLabels, Counter>::default();
        let audit_duration: Histograms<SinkLabels> = Family::new_with_constructor(audit_latency);
        let webhook_deliveries = Family::<OutcomeLabels, Counter>::default();
        let webhook_attempt_failures = Counter::default();
        let reveal_rate_limited = Counter::default();
        // Help texts end without a full stop: prometheus-client adds one.
        registry.register_with_unit(
            "http_request_duration",
            "HTTP requests by route template (never the raw path), method and status, and how long each took to answer",
            Unit::Seconds,
            http_duration.clone(),
        );
        registry.register_with_unit(
            "kube_request_duration",
            "Calls to the Kubernetes API as a user, by verb and resource, and how long each took (retries of a read and their waits included)",
            Unit::Seconds,
            kube_duration.clone(),
        );
        registry.register(
            "kube_request_errors",
            "Calls to the Kubernetes API that failed, by verb, resource and class (the API server's status code; unreachable; timeout; decode)",
            kube_errors.clone(),
        );
        registry.register(
            "kube_read_retries",
            "Reads retried after the Kubernetes API answered 429",
            kube_read_retries.clone(),
        );
        registry.register(
            "audit_writes",
            "Audit records written, per sink",
            audit_writes.clone(),
        );
        registry.register(
            "audit_write_failures",
            "Audit records a sink failed to write",
            audit_failures.clone(),
        );
        registry.register_with_unit(
            "audit_write_duration",
            "How long a sink took to commit an audit record (or to fail), per sink",
            Unit::Seconds,
            audit_duration.clone(),
        );
        registry.register(
            "webhook_deliveries",
            "Announcements to webhooks, per outcome (delivered; failed after every attempt; dropped because the queue was full)",
            webhook_deliveries.clone(),
        );
        registry.register(
            "webhook_attempt_failures",
            "Webhook delivery attempts that failed (each retry counts)",
            webhook_attempt_failures.clone(),
        );
        registry.register(
            "reveal_rate_limited",
            "Disclosures of values (reveals, comparisons, seals, exports) refused because the user was over the reveal rate limit",
            reveal_rate_limited.clone(),
        );
        registry.register_collector(Box::new(Gauges));
        // The series people alert on exist from the start, at zero.
        for sink in ["database", "stdout"] {
            audit_writes.get_or_create_owned(&SinkLabels { sink });
            audit_failures.get_or_create_owned(&SinkLabels { sink });
        }
        for outcome in ["delivered", "failed", "dropped"] {
            webhook_deliveries.get_or_create_owned(&OutcomeLabels { outcome });
        }
        Metrics {
            registry,
            http_duration,
            kube_duration,
            kube_errors,
            kube_read_retries,
            audit_writes,
            audit_failures,
            audit_duration,
            webhook_deliveries,
            webhook_attempt_failures,
            reveal_rate_limited,
        }
    }
}

/// The metrics in Prometheus' text exposition format (version 0.0.4).
pub fn render() -> String {
    let mut out = String::new();
    prometheus_client::encoding::prometheus_text::encode(&mut out, &METRICS.registry)
        .expect("writing to a String cannot fail");
    out
}

/// Records one HTTP request: `route` is the matched route template (or a
/// fixed word for requests no route matched), never the request's path.
pub fn http_request(route: &str, method: &http::Method, status: u16, took: Duration) {
    // A 405 names a method the route does not have: counted as "other", so
    // that anyone sending every method to every route makes one series per
    // route, not eight.
    let method = METHODS
        .iter()
        .find(|m| **m == method.as_str() && status != 405)
        .copied()
        .unwrap_or("other");
    METRICS
        .http_duration
        .get_or_create(&HttpLabels {
            route: route.to_string(),
            method,
            status,
        })
        .observe(took.as_secs_f64());
}

/// What a call to the Kubernetes API does, for its labels: the verb
/// (`get`, `list`, `create`, `update`, `patch`, `delete`) and the resource
/// from a fixed list, both read from the method and the path. Names,
/// namespaces and queries never become labels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KubeCall {
    verb: &'static str,
    resource: &'static str,
}

impl KubeCall {
    /// The call `method` on `path` (`/api/v1/namespaces/NS/secrets/NAME`,
    /// `/apis/GROUP/VERSION/...`).
    pub fn of(method: &http::Method, path: &str) -> Self {
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        let rest = match segments.as_slice() {
            ["api", _version, rest @ ..] => rest,
            ["apis", _group, _version, rest @ ..] => rest,
            _ => &[][..],
        };
        // Namespaced: namespaces/NS/RESOURCE[/NAME[/SUBRESOURCE]];
        // cluster-wide (a namespace itself too): RESOURCE[/NAME].
        let (resource, named) = match rest {
            ["namespaces", _ns, resource, tail @ ..] => (Some(*resource), !tail.is_empty()),
            [resource, tail @ ..] => (Some(*resource), !tail.is_empty()),
            [] => (None, false),
        };
        let resource = resource
            .and_then(|r| RESOURCES.iter().find(|known| **known == r))
            .copied()
            .unwrap_or("other");
        let verb = match *method {
            http::Method::GET if named => "get",
            http::Method::GET => "list",
            http::Method::POST => "create",
            http::Method::PUT => "update",
            http::Method::PATCH => "patch",
            http::Method::DELETE => "delete",
            _ => "other",
        };
        KubeCall { verb, resource }
    }

    /// Records the call's duration, and its failure's class if it failed
    /// (`403`, `unreachable`, ...: see [`KubeCall::failed`]).
    pub fn finished(self, took: Duration, failure: Option<&str>) {
        METRICS
            .kube_duration
            .get_or_create(&KubeLabels {
                verb: self.verb,
                resource: self.resource,
            })
            .observe(took.as_secs_f64());
        if let Some(class) = failure {
            self.failed(class);
        }
    }

    /// Counts a failure of class `class`: a status code the API server
    /// answered with, `unreachable`, `timeout` or `decode` (an answer that
    /// could not be read).
    pub fn failed(self, class: &str) {
        METRICS
            .kube_errors
            .get_or_create(&KubeErrorLabels {
                verb: self.verb,
                resource: self.resource,
                class: class.to_string(),
            })
            .inc();
    }
}

/// Counts one read retried after the API server answered 429.
pub fn kube_read_retry() {
    METRICS.kube_read_retries.inc();
}

/// Counts one webhook outcome: `delivered`, `failed` (every attempt
/// failed), `dropped` (the queue was full) or `attempt_failed`.
pub fn webhook(outcome: &str) {
    let outcome = match outcome {
        "delivered" => "delivered",
        "failed" => "failed",
        "dropped" => "dropped",
        _ => {
            METRICS.webhook_attempt_failures.inc();
            return;
        }
    };
    METRICS
        .webhook_deliveries
        .get_or_create(&OutcomeLabels { outcome })
        .inc();
}

/// Counts one audit write attempt to `sink` (`database` or `stdout`), and
/// how long it took to commit or to fail.
pub fn audit_write(sink: &str, ok: bool, took: Duration) {
    let sink = if sink == "database" {
        "database"
    } else {
        "stdout"
    };
    let labels = SinkLabels { sink };
    let counter = if ok {
        &METRICS.audit_writes
    } else {
        &METRICS.audit_failures
    };
    counter.get_or_create(&labels).inc();
    METRICS
        .audit_duration
        .get_or_create(&labels)
        .observe(took.as_secs_f64());
}

/// Counts one disclosure refused because its user was over the reveal
/// rate limit.
pub fn reveal_rate_limited() {
    METRICS.reveal_rate_limited.inc();
}

/// Secrets seen overdue for rotation, per namespace: name → last seen.
static OVERDUE: Mutex<BTreeMap<String, BTreeMap<String, Instant>>> = Mutex::new(BTreeMap::new());

/// Secrets whose certificates have expired or expire within the window,
/// per namespace, from its latest certificate scan.
static EXPIRING: Mutex<BTreeMap<String, usize>> = Mutex::new(BTreeMap::new());

/// Signed-in sessions seen on this replica: a session's key (a hash of its
/// id, never the id) → when it goes idle.
static SESSIONS: Mutex<BTreeMap<String, Instant>> = Mutex::new(BTreeMap::new());

/// Records, for secrets of `ns` a list or page showed, whether each is
/// overdue for rotation (`(name, overdue)`).
pub fn rotation_seen(ns: &str, seen: &[(&str, bool)]) {
    let now = Instant::now();
    let mut map = OVERDUE.lock().unwrap_or_else(|e| e.into_inner());
    if !map.contains_key(ns) && map.len() >= MAX_NAMESPACES {
        return;
    }
    let set = map.entry(ns.to_string()).or_default();
    for &(name, overdue) in seen {
        if !overdue {
            set.remove(name);
        } else if set.len() < MAX_TRACKED || set.contains_key(name) {
            set.insert(name.to_string(), now);
        }
    }
    set.retain(|_, at| now.duration_since(*at) < SEEN_FOR);
    if set.is_empty() {
        map.remove(ns);
    }
}

/// Records a namespace's certificate scan: how many of its secrets hold a
/// certificate that has expired or expires within the scan's window.
pub fn certificates_seen(ns: &str, expiring_secrets: usize) {
    let mut map = EXPIRING.lock().unwrap_or_else(|e| e.into_inner());
    if expiring_secrets == 0 {
        map.remove(ns);
    } else if map.contains_key(ns) || map.len() < MAX_NAMESPACES {
        map.insert(ns.to_string(), expiring_secrets);
    }
}

/// Records that the signed-in session `key` made a request: it counts as
/// active on this replica until `idle_timeout` passes without another.
pub fn session_active(key: &str, idle_timeout: Duration) {
    let now = Instant::now();
    let mut map = SESSIONS.lock().unwrap_or_else(|e| e.into_inner());
    if map.len() >= MAX_SESSIONS && !map.contains_key(key) {
        map.retain(|_, idle_at| *idle_at > now);
        if map.len() >= MAX_SESSIONS {
            return;
        }
    }
    map.insert(key.to_string(), now + idle_timeout);
}

/// Records that the session `key` ended (signed out, or ended by its rules).
pub fn session_ended(key: &str) {
    SESSIONS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(key);
}

/// The gauges computed at each scrape from the bounded maps above.
#[derive(Debug)]
struct Gauges;

impl Collector for Gauges {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let now = Instant::now();
        let active = {
            let mut map = SESSIONS.lock().unwrap_or_else(|e| e.into_inner());
            map.retain(|_, idle_at| *idle_at > now);
            map.len()
        };
        let gauge = ConstGauge::new(active as i64);
        gauge.encode(encoder.encode_descriptor(
            "sessions_active",
            "Signed-in sessions that made a request to this replica within the session idle timeout (a session served by several replicas counts on each; ended sessions leave at once).",
            None,
            gauge.metric_type(),
        )?)?;

        let overdue: Vec<(String, usize)> = OVERDUE
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(ns, names)| {
                let n = names
                    .values()
                    .filter(|seen| now.duration_since(**seen) < SEEN_FOR)
                    .count();
                (ns.clone(), n)
            })
            .collect();
        per_namespace(
            &mut encoder,
            "secrets_rotation_overdue",
            "Secrets whose values are older than their rotation policy, per namespace (among those Strongroom has listed or shown).",
            &overdue,
        )?;

        let expiring: Vec<(String, usize)> = EXPIRING
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(ns, n)| (ns.clone(), *n))
            .collect();
        per_namespace(
            &mut encoder,
            "secrets_certificates_expiring",
            "Secrets holding a certificate that has expired or expires within the warning window, per namespace (from its latest certificate scan).",
            &expiring,
        )
    }
}

/// A gauge with one series per namespace.
fn per_namespace(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    values: &[(String, usize)],
) -> Result<(), std::fmt::Error> {
    let mut metric = encoder.encode_descriptor(
        name,
        help,
        None,
        prometheus_client::metrics::MetricType::Gauge,
    )?;
    for (ns, n) in values {
        let labels = [("namespace", ns.as_str())];
        ConstGauge::new(*n as i64).encode(metric.encode_family(&labels)?)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::Method;

    #[test]
    fn kube_calls_are_labelled_by_verb_and_known_resource_only() {
        let call = |m: &Method, p: &str| {
            let c = KubeCall::of(m, p);
            (c.verb, c.resource)
        };
        assert_eq!(
            call(&Method::GET, "/api/v1/namespaces/team-a/secrets"),
            ("list", "secrets")
        );
        assert_eq!(
            call(
                &Method::GET,
                "/api/v1/namespaces/team-a/secrets/db-password"
            ),
            ("get", "secrets")
        );
        assert_eq!(
            call(
                &Method::PUT,
                "/api/v1/namespaces/team-a/secrets/db-password"
            ),
            ("update", "secrets")
        );
        assert_eq!(
            call(&Method::DELETE, "/api/v1/namespaces/team-a/secrets/x"),
            ("delete", "secrets")
        );
        assert_eq!(
            call(&Method::GET, "/api/v1/namespaces"),
            ("list", "namespaces")
        );
        assert_eq!(
            call(
                &Method::POST,
                "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"
            ),
            ("create", "selfsubjectaccessreviews")
        );
        assert_eq!(
            call(
                &Method::PATCH,
                "/apis/apps/v1/namespaces/team-a/deployments/web"
            ),
            ("patch", "deployments")
        );
        assert_eq!(
            call(
                &Method::GET,
                "/api/v1/namespaces/kube-system/services/sealed-secrets-controller:http/proxy/v1/cert.pem"
            ),
            ("get", "services")
        );
        // A resource from a secret's metadata (an owner's kind) is not a label.
        assert_eq!(
            call(
                &Method::GET,
                "/apis/example.com/v1/namespaces/team-a/hunter2s/x"
            ),
            ("get", "other")
        );
        assert_eq!(call(&Method::GET, "/version"), ("list", "other"));
    }

    #[test]
    fn the_text_names_every_metric_with_its_labels() {
        http_request(
            "/api/v1/namespaces/{ns}/secrets",
            &Method::GET,
            200,
            Duration::from_millis(3),
        );
        http_request(
            "unmatched",
            &Method::from_bytes(b"BREW").unwrap(),
            404,
            Duration::ZERO,
        );
        for method in [Method::PUT, Method::PATCH, Method::TRACE] {
            http_request("/readyz", &method, 405, Duration::ZERO);
        }
        KubeCall::of(&Method::GET, "/api/v1/namespaces/team-a/secrets/x")
            .finished(Duration::from_millis(20), Some("404"));
        audit_write("database", true, Duration::from_millis(2));
        reveal_rate_limited();
        session_active("a-session", Duration::from_secs(60));
        session_active("gone", Duration::from_secs(60));
        session_ended("gone");
        certificates_seen("team-z", 2);
        let text = render();
        for line in [
            "strongroom_http_request_duration_seconds_bucket{route=\"/api/v1/namespaces/{ns}/secrets\",method=\"GET\",status=\"200\",le=\"0.005\"} 1",
            "strongroom_http_request_duration_seconds_count{route=\"unmatched\",method=\"other\",status=\"404\"} 1",
            // Every method a route lacks is one series.
            "strongroom_http_request_duration_seconds_count{route=\"/readyz\",method=\"other\",status=\"405\"} 3",
            "strongroom_kube_request_duration_seconds_count{verb=\"get\",resource=\"secrets\"}",
            "strongroom_kube_request_errors_total{verb=\"get\",resource=\"secrets\",class=\"404\"}",
            "strongroom_audit_write_duration_seconds_count{sink=\"database\"}",
            "strongroom_audit_writes_total{sink=\"stdout\"} ",
            "strongroom_audit_write_failures_total{sink=\"database\"} ",
            "strongroom_webhook_deliveries_total{outcome=\"dropped\"} ",
            "strongroom_webhook_attempt_failures_total ",
            "strongroom_kube_read_retries_total ",
            "strongroom_reveal_rate_limited_total ",
            "strongroom_sessions_active ",
            "strongroom_secrets_certificates_expiring{namespace=\"team-z\"} 2",
            "# TYPE strongroom_secrets_rotation_overdue gauge",
        ] {
            assert!(text.contains(line), "no {line:?} in\n{text}");
        }
        certificates_seen("team-z", 0);
        assert!(!render().contains("namespace=\"team-z\""));
    }
}
