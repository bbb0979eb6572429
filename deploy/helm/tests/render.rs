//! `helm lint` and `helm template`: the chart renders what each
//! configuration asks for, refuses configurations that cannot work, and the
//! plain manifests and the local stack's RBAC agree with it.

use std::process::Command;

use serde_json::{Value, json};
use strongroom_server::infra::cluster::AUDIT_EXTRA_KEY;

use crate::{
    releases::{
        DIGEST, INGRESS_FROM, METRICS_FROM, configurations, constrained_extra_key, guards_args,
        postgres_values,
    },
    support::{
        chart, container, env, find, has_kind, helm_cmd, must_template, objects, ok, repo, run,
        template,
    },
};

#[test]
fn helm_is_the_version_pinned_in_the_wrapper_module() {
    let go_mod = std::fs::read_to_string(repo().join("deploy/helm-bin/go.mod")).unwrap();
    let pinned = go_mod
        .lines()
        .find_map(|l| l.trim().strip_prefix("helm.sh/helm/v3 "))
        .and_then(|rest| rest.split_whitespace().next())
        .expect("go.mod requires helm.sh/helm/v3");
    let version = ok(
        helm_cmd(&["version", "--template", "{{.Version}}"]),
        "helm version",
    );
    assert_eq!(version.trim(), pinned);
}

#[test]
fn helm_lint_passes_for_every_configuration() {
    let chart = chart();
    let values = postgres_values();
    let key = format!("rbac.auditExtraKey={}", constrained_extra_key());
    let configurations: [&[&str]; 3] = [
        &[],
        &["--set", "rbac.mode=constrained", "--set", &key],
        &["-f", &values],
    ];
    for extra in configurations {
        let mut args = vec!["lint", "--strict", chart.as_str()];
        args.extend_from_slice(extra);
        let out = ok(helm_cmd(&args), &format!("helm lint {extra:?}"));
        assert!(
            out.contains("1 chart(s) linted, 0 chart(s) failed"),
            "helm lint {extra:?}: {out}"
        );
    }
}

#[test]
fn sqlite_with_two_replicas_fails_to_render_with_a_clear_message() {
    let err = template("x", &["--set", "replicaCount=2"]).expect_err("must not render");
    assert!(
        err.contains("replicaCount is 2 but database.mode is sqlite")
            && err.contains("exactly one replica")
            && err.contains("database.mode: postgres"),
        "unclear message: {err}"
    );
    // The same count on PostgreSQL is fine.
    must_template(
        "x",
        &[
            "--set",
            "replicaCount=2",
            "--set",
            "database.mode=postgres",
            "--set",
            "database.postgres.existingSecret=db",
            "--set",
            "audit.hmacKey.existingSecret=keys",
            "--set",
            "audit.chainKey.existingSecret=keys",
        ],
    );
}

#[test]
fn postgresql_needs_the_audit_keys_from_a_secret() {
    // Replicas must share the keys, and the database is no place for them.
    let base = [
        "--set",
        "database.mode=postgres",
        "--set",
        "database.postgres.existingSecret=db",
    ];
    let err = template("x", &base).expect_err("no keys, no render");
    assert!(err.contains("audit.chainKey.existingSecret"), "{err}");
    let mut with_keys = base.to_vec();
    with_keys.extend([
        "--set",
        "audit.hmacKey.existingSecret=keys",
        "--set",
        "audit.chainKey.existingSecret=keys",
    ]);
    let objects = objects(&must_template("x", &with_keys));
    let c = container(&objects);
    assert_eq!(
        env(c, "STRONGROOM_AUDIT_CHAIN_KEY_FILE"),
        Some("/etc/strongroom/audit-chain/chain-key")
    );
    assert_eq!(
        env(c, "STRONGROOM_AUDIT_HMAC_KEY_FILE"),
        Some("/etc/strongroom/audit/hmac-key")
    );
}

#[test]
fn configurations_that_cannot_work_fail_to_render() {
    let cases: [(&[&str], &str); 6] = [
        (
            &["--set", "database.mode=postgres"],
            "set database.postgres.existingSecret",
        ),
        // What `helm upgrade --reuse-values` from an older chart leaves out.
        (
            &["--set", "metrics.port=null"],
            "metrics.port is not set: `helm upgrade --reuse-values`",
        ),
        (
            &["--set", "publicUrl=http://strongroom.example.com"],
            "secure cookies need https",
        ),
        (
            &["--set", "audit.required={stdout}"],
            "\"stdout\", which is not in audit.sinks",
        ),
        (
            &["--set", "oidc.existingSecret="],
            "oidc.existingSecret is required",
        ),
        (&["--set", "rbac.mode=legacy"], "/rbac/mode"),
    ];
    for (args, message) in cases {
        let err = template("x", args).expect_err(&format!("{args:?} must not render"));
        assert!(
            err.contains(message),
            "{args:?}: expected {message:?} in {err}"
        );
    }
}

#[test]
fn constrained_mode_refuses_an_audit_extra_key_without_a_domain_prefix() {
    // Constrained impersonation only accepts domain-prefixed extra keys
    // (checked against the API server in
    // constrained_impersonation_refuses_extra_keys_without_a_domain_prefix),
    // so the chart refuses to render RBAC under which every reveal fails.
    let err = template(
        "x",
        &[
            "--set",
            "rbac.mode=constrained",
            "--set",
            "rbac.auditExtraKey=strongroom-audit-id",
        ],
    )
    .expect_err("must not render");
    assert!(err.contains("has no domain prefix"), "{err}");
    let yaml = must_template(
        "x",
        &[
            "--set",
            "rbac.mode=constrained",
            "--set",
            "rbac.auditExtraKey=strongroom.dev/audit-id",
        ],
    );
    assert!(yaml.contains("userextras/strongroom.dev/audit-id"));
}

#[test]
fn default_render_is_one_hardened_replica_on_sqlite() {
    let objects = objects(&must_template("defaults", &[]));
    let deployment = find(&objects, "Deployment");
    assert_eq!(deployment["spec"]["replicas"], 1);
    assert_eq!(deployment["spec"]["strategy"]["type"], "Recreate");
    let pod = &deployment["spec"]["template"]["spec"];
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(pod["securityContext"]["runAsUser"], 65532);
    assert_eq!(
        pod["securityContext"]["seccompProfile"]["type"],
        "RuntimeDefault"
    );
    let c = container(&objects);
    let sc = &c["securityContext"];
    assert_eq!(sc["runAsNonRoot"], true);
    assert_eq!(sc["runAsUser"], 65532);
    assert_eq!(sc["readOnlyRootFilesystem"], true);
    assert_eq!(sc["allowPrivilegeEscalation"], false);
    assert_eq!(sc["capabilities"]["drop"], json!(["ALL"]));
    assert_eq!(sc["seccompProfile"]["type"], "RuntimeDefault");
    assert_eq!(c["ports"][0]["containerPort"], 3000);
    assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert_eq!(c["resources"]["requests"]["cpu"], "50m");
    assert_eq!(c["resources"]["requests"]["memory"], "64Mi");
    assert_eq!(c["resources"]["limits"]["memory"], "256Mi");
    assert_eq!(c["resources"]["limits"]["cpu"], "1");
    assert_eq!(env(c, "STRONGROOM_LISTEN"), Some("0.0.0.0:3000"));
    assert_eq!(env(c, "STRONGROOM_COOKIE_SECURE"), Some("true"));
    assert_eq!(env(c, "STRONGROOM_CERT_EXPIRY_WARNING"), Some("30d"));
    assert_eq!(env(c, "STRONGROOM_DATA_DIR"), Some("/var/lib/strongroom"));
    assert_eq!(
        env(c, "STRONGROOM_OIDC_CLIENT_SECRET_FILE"),
        Some("/etc/strongroom/oidc/client-secret")
    );
    assert_eq!(env(c, "STRONGROOM_DATABASE_URL_FILE"), None);
    assert_eq!(
        env(c, "STRONGROOM_OIDC_CLIENT_SECRET"),
        None,
        "secrets come from files"
    );
    // The only writable places: /tmp (emptyDir) and the SQLite volume.
    let volumes = pod["volumes"].as_array().unwrap();
    let tmp = volumes.iter().find(|v| v["name"] == "tmp").unwrap();
    assert!(tmp["emptyDir"].is_object());
    let mounts = c["volumeMounts"].as_array().unwrap();
    assert!(mounts.iter().any(|m| m["mountPath"] == "/tmp"));
    let data = volumes.iter().find(|v| v["name"] == "data").unwrap();
    let pvc = find(&objects, "PersistentVolumeClaim");
    assert_eq!(
        data["persistentVolumeClaim"]["claimName"],
        pvc["metadata"]["name"]
    );
    assert_eq!(pvc["spec"]["accessModes"], json!(["ReadWriteOnce"]));
    // The token is the chart's projected volume, at the path in-cluster
    // clients read, not the automatic mount.
    assert_eq!(pod["automountServiceAccountToken"], false);
    assert_eq!(
        find(&objects, "ServiceAccount")["automountServiceAccountToken"],
        false
    );
    let sa = volumes
        .iter()
        .find(|v| v["name"] == "service-account")
        .unwrap();
    let sources = sa["projected"]["sources"].as_array().unwrap();
    assert_eq!(sources[0]["serviceAccountToken"]["path"], "token");
    assert_eq!(sources[0]["serviceAccountToken"]["expirationSeconds"], 3600);
    assert_eq!(sources[1]["configMap"]["name"], "kube-root-ca.crt");
    assert_eq!(sources[1]["configMap"]["items"][0]["path"], "ca.crt");
    assert_eq!(
        sources[2]["downwardAPI"]["items"][0]["fieldRef"]["fieldPath"],
        "metadata.namespace"
    );
    let sa_mount = mounts
        .iter()
        .find(|m| m["name"] == "service-account")
        .unwrap();
    assert_eq!(
        sa_mount["mountPath"],
        "/var/run/secrets/kubernetes.io/serviceaccount"
    );
    assert_eq!(sa_mount["readOnly"], true);
    // A tag, pulled every time; no suppression for policy scanners (they
    // are to report the tag: see no_configuration_suppresses_a_scanner_check).
    assert_eq!(
        c["image"],
        "registry.example.com/strongroom/strongroom:0.1.0"
    );
    assert_eq!(c["imagePullPolicy"], "Always");
    assert_eq!(deployment["metadata"]["annotations"], Value::Null);
    assert_eq!(env(c, "PGSSLMODE"), None, "SQLite");
    assert!(!has_kind(&objects, "ConfigMap"), "no dashboard by default");
    assert!(!has_kind(&objects, "PodDisruptionBudget"), "one replica");
    assert!(!has_kind(&objects, "Ingress"));
    assert!(!has_kind(&objects, "ServiceMonitor"));
    // Port 3000 open to anyone, the metrics port to nobody.
    let policy = find(&objects, "NetworkPolicy");
    assert_eq!(
        policy["spec"]["ingress"],
        json!([{"ports": [{"port": "http", "protocol": "TCP"}]}])
    );
    let egress_ports: Vec<&Value> = policy["spec"]["egress"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["ports"].as_array().unwrap())
        .map(|p| &p["port"])
        .collect();
    for port in [53, 443, 6443] {
        assert!(egress_ports.contains(&&json!(port)), "egress to {port}");
    }
    assert!(
        !egress_ports.contains(&&json!(5432)),
        "no database egress with SQLite"
    );
}

#[test]
fn postgres_render_scales_out_behind_an_ingress() {
    let objects = objects(&must_template("scaled", &["-f", &postgres_values()]));
    let deployment = find(&objects, "Deployment");
    assert_eq!(deployment["spec"]["replicas"], 3);
    assert_eq!(deployment["spec"]["strategy"]["type"], "RollingUpdate");
    assert!(!has_kind(&objects, "PersistentVolumeClaim"));
    let pdb = find(&objects, "PodDisruptionBudget");
    assert_eq!(pdb["spec"]["minAvailable"], 1);
    assert_eq!(
        pdb["spec"]["selector"]["matchLabels"],
        deployment["spec"]["selector"]["matchLabels"]
    );
    let c = container(&objects);
    assert_eq!(
        env(c, "STRONGROOM_DATABASE_URL_FILE"),
        Some("/etc/strongroom/database/url")
    );
    assert_eq!(
        env(c, "STRONGROOM_AUDIT_HMAC_KEY_FILE"),
        Some("/etc/strongroom/audit/hmac-key")
    );
    assert_eq!(env(c, "STRONGROOM_DATA_DIR"), None);
    assert_eq!(env(c, "STRONGROOM_NAMESPACES"), Some("team-a,team-b"));
    assert_eq!(env(c, "STRONGROOM_AUDIT_SINKS"), Some("database,stdout"));
    assert_eq!(
        env(c, "STRONGROOM_PUBLIC_URL"),
        Some("https://strongroom.helm-test.example"),
        "derived from the Ingress host"
    );
    let volumes = &deployment["spec"]["template"]["spec"]["volumes"];
    let db = volumes
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "database")
        .unwrap();
    assert_eq!(db["secret"]["secretName"], "strongroom-db");
    let ingress = find(&objects, "Ingress");
    assert_eq!(ingress["spec"]["ingressClassName"], "nginx");
    assert_eq!(
        ingress["spec"]["tls"][0]["secretName"],
        "strongroom-helm-test-tls"
    );
    assert_eq!(
        ingress["spec"]["rules"][0]["host"],
        "strongroom.helm-test.example"
    );
    let policy = find(&objects, "NetworkPolicy");
    assert!(
        policy["spec"]["egress"].to_string().contains("5432"),
        "egress to PostgreSQL"
    );
    // TLS to the database, checked against the CA bundle from a Secret.
    assert_eq!(env(c, "PGSSLMODE"), Some("verify-full"));
    assert_eq!(
        env(c, "PGSSLROOTCERT"),
        Some("/etc/strongroom/database-ca/ca.crt")
    );
    let ca = volumes
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "database-ca")
        .unwrap();
    assert_eq!(ca["secret"]["secretName"], "strongroom-db-ca");
    assert_eq!(
        ca["secret"]["items"],
        json!([{"key": "ca.crt", "path": "ca.crt"}])
    );
}

#[test]
fn required_claims_render_as_claim_value_pairs() {
    let none = objects(&must_template("defaults", &[]));
    assert_eq!(
        env(container(&none), "STRONGROOM_OIDC_REQUIRED_CLAIMS"),
        None
    );
    let objects = objects(&must_template(
        "claims",
        &[
            "--set",
            "identity.requiredClaims.hd=example.com",
            "--set",
            "identity.requiredClaims.tid=abc",
        ],
    ));
    assert_eq!(
        env(container(&objects), "STRONGROOM_OIDC_REQUIRED_CLAIMS"),
        Some("hd=example.com,tid=abc")
    );
    assert!(
        template("bad", &["--set", "identity.requiredClaims.hd=a b"]).is_err(),
        "a value with a space cannot be one CLAIM=VALUE pair"
    );
    assert!(
        template(
            "bad",
            &["--set-json", r#"identity.requiredClaims={"hd=x,tid":"y"}"#]
        )
        .is_err(),
        "a claim name with '=' or ',' would smuggle another pair"
    );
}

#[test]
fn guards_render_per_namespace_with_the_webhook_key_mounted() {
    let none = objects(&must_template("defaults", &[]));
    assert_eq!(env(container(&none), "STRONGROOM_NAMESPACE_GUARDS"), None);
    assert_eq!(
        env(container(&none), "STRONGROOM_WEBHOOK_SECRET_FILE"),
        None
    );
    let args = guards_args();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let guarded = objects(&must_template("guarded", &args));
    let c = container(&guarded);
    assert_eq!(
        env(c, "STRONGROOM_NAMESPACE_GUARDS"),
        Some("payments=step-up+approval+notify,prod-*=step-up")
    );
    assert_eq!(
        env(c, "STRONGROOM_APPROVER_GROUPS"),
        Some("oidc:security-oncall")
    );
    assert_eq!(
        env(c, "STRONGROOM_WEBHOOK_URLS"),
        Some("https://hooks.example.com/strongroom")
    );
    assert_eq!(env(c, "STRONGROOM_STEP_UP_MAX_AGE"), Some("5m"));
    let mount = c["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "webhook-key")
        .expect("the webhook key is mounted");
    assert_eq!(
        format!("{}/webhook-key", mount["mountPath"].as_str().unwrap()),
        env(c, "STRONGROOM_WEBHOOK_SECRET_FILE").unwrap()
    );
    assert!(
        template(
            "bad",
            &["--set-json", r#"guards.namespaces={"payments":["sudo"]}"#]
        )
        .is_err(),
        "an unknown guard fails to render"
    );
}

#[test]
fn service_monitor_renders_only_when_enabled() {
    let off = must_template("x", &[]);
    assert!(!off.contains("kind: ServiceMonitor"));
    let on = must_template(
        "x",
        &[
            "--set",
            "metrics.serviceMonitor.enabled=true",
            "--set-json",
            METRICS_FROM,
        ],
    );
    let (monitor, rest) = split_service_monitor(&on);
    assert_eq!(monitor["apiVersion"], "monitoring.coreos.com/v1");
    let endpoints = monitor["spec"]["endpoints"].as_array().unwrap();
    assert_eq!(endpoints.len(), 1);
    assert_eq!(endpoints[0]["path"], "/metrics");
    assert_eq!(endpoints[0]["port"], "metrics", "scrapes the metrics port");
    // It selects the metrics Service, and only that: the app's Service does
    // not carry its labels (and has no port named metrics anyway).
    let objects = objects(&rest);
    let (app, metrics) = services(&objects);
    let selector = monitor["spec"]["selector"]["matchLabels"]
        .as_object()
        .unwrap();
    assert!(!selector.is_empty());
    let selects = |service: &Value| {
        selector
            .iter()
            .all(|(k, v)| service["metadata"]["labels"][k] == *v)
    };
    assert!(selects(metrics), "{selector:?} must select {metrics}");
    assert!(!selects(app), "{selector:?} must not select {app}");
    assert_eq!(
        monitor["spec"]["namespaceSelector"]["matchNames"],
        json!([crate::NS])
    );
    // job stays the release's full name, as when the app's Service was
    // scraped, rather than the metrics Service's name.
    assert_eq!(
        endpoints[0]["relabelings"],
        json!([{"action": "replace", "targetLabel": "job", "replacement": "x-strongroom"}])
    );
    assert_eq!(app["metadata"]["name"], "x-strongroom");
}

#[test]
fn a_service_monitor_behind_the_network_policy_needs_metrics_from() {
    // The NetworkPolicy closes the metrics port unless metricsFrom opens it:
    // a ServiceMonitor without it could never scrape.
    let err = template("x", &["--set", "metrics.serviceMonitor.enabled=true"])
        .expect_err("a ServiceMonitor Prometheus may not reach must not render");
    assert!(
        err.contains(
            "metrics.serviceMonitor.enabled is true but networkPolicy.metricsFrom is empty"
        ) && err.contains("Set networkPolicy.metricsFrom to Prometheus' peers"),
        "unclear message: {err}"
    );
    // ... also when only the app's peers are named.
    let err = template(
        "x",
        &[
            "--set",
            "metrics.serviceMonitor.enabled=true",
            "--set-json",
            INGRESS_FROM,
        ],
    )
    .expect_err("ingressFrom does not open the metrics port");
    assert!(err.contains("networkPolicy.metricsFrom is empty"), "{err}");
    // Without a NetworkPolicy there is nothing to open.
    let open = must_template(
        "x",
        &[
            "--set",
            "metrics.serviceMonitor.enabled=true",
            "--set",
            "networkPolicy.enabled=false",
        ],
    );
    assert!(open.contains("kind: ServiceMonitor"));
    assert!(!open.contains("kind: NetworkPolicy"));
}

#[test]
fn the_metrics_port_is_never_on_the_app_service() {
    // The app's Service may be published outside the cluster; the metrics
    // Service is ClusterIP whatever service.type is.
    for service_type in ["ClusterIP", "NodePort", "LoadBalancer"] {
        let objects = objects(&must_template(
            "x",
            &["--set", &format!("service.type={service_type}")],
        ));
        let (app, metrics) = services(&objects);
        assert_eq!(app["spec"]["type"], service_type);
        assert_eq!(
            app["spec"]["ports"],
            json!([{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}]),
            "{service_type}: the app's Service has the app's port alone"
        );
        assert_eq!(metrics["metadata"]["name"], "x-strongroom-metrics");
        assert_eq!(metrics["spec"]["type"], "ClusterIP", "{service_type}");
        assert_eq!(
            metrics["spec"]["ports"],
            json!([{"name": "metrics", "port": 9090, "targetPort": "metrics", "protocol": "TCP"}]),
            "{service_type}"
        );
        let pods = &find(&objects, "Deployment")["spec"]["selector"]["matchLabels"];
        assert_eq!(&app["spec"]["selector"], pods);
        assert_eq!(&metrics["spec"]["selector"], pods);
    }
}

#[test]
fn the_metrics_port_is_closed_unless_metrics_from_names_who_may_scrape() {
    let ingress_rules = |args: &[&str]| {
        let objects = objects(&must_template("x", args));
        find(&objects, "NetworkPolicy")["spec"]["ingress"].clone()
    };
    let app_rule = |from: Option<Value>| {
        let mut rule = json!({"ports": [{"port": "http", "protocol": "TCP"}]});
        if let Some(from) = from {
            rule["from"] = from;
        }
        rule
    };
    let set_json =
        |arg: &str| -> Value { serde_json::from_str(arg.split_once('=').unwrap().1).unwrap() };
    // No rule for the metrics port, whether or not the app's peers are
    // restricted (an operator who restricted ingressFrom when /metrics was
    // on port 3000 keeps it restricted).
    assert_eq!(ingress_rules(&[]), json!([app_rule(None)]));
    assert_eq!(
        ingress_rules(&["--set-json", INGRESS_FROM]),
        json!([app_rule(Some(set_json(INGRESS_FROM)))])
    );
    // With metricsFrom, a rule for the metrics port carrying exactly it; the
    // app's rule is left as it was.
    let metrics_rule = json!({
        "ports": [{"port": "metrics", "protocol": "TCP"}],
        "from": set_json(METRICS_FROM),
    });
    assert_eq!(
        ingress_rules(&["--set-json", METRICS_FROM]),
        json!([app_rule(None), metrics_rule])
    );
    assert_eq!(
        ingress_rules(&["--set-json", INGRESS_FROM, "--set-json", METRICS_FROM]),
        json!([app_rule(Some(set_json(INGRESS_FROM))), metrics_rule])
    );
}

#[test]
fn no_configuration_suppresses_a_scanner_check() {
    // A suppression rendered by the chart would be in every user's
    // manifests, hiding the finding from their own scans (checkov.rs skips
    // on checkov's command line instead).
    let plain = std::fs::read_to_string(repo().join("deploy/manifests/strongroom.yaml")).unwrap();
    for (name, args) in configurations() {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let yaml = must_template("x", &args);
        for (what, text) in [(name, yaml.as_str()), ("plain manifests", plain.as_str())] {
            for marker in ["checkov.io/skip", "checkov:skip", "bridgecrew.io/skip"] {
                assert!(!text.contains(marker), "{what} renders {marker}");
            }
        }
    }
}

#[test]
fn classic_rules_are_those_of_deploy_rbac_backend_impersonator() {
    // The local stack runs the backend with deploy/rbac/backend-impersonator.yaml;
    // it must grant exactly what the chart grants.
    let file =
        std::fs::read_to_string(repo().join("deploy/rbac/backend-impersonator.yaml")).unwrap();
    let from_file = objects(&file);
    let file_rules = &find(&from_file, "ClusterRole")["rules"];
    let chart_objects = objects(&must_template("x", &["--set", "rbac.mode=classic"]));
    let chart_rules = &find(&chart_objects, "ClusterRole")["rules"];
    assert_eq!(chart_rules, file_rules);
    // ... and the one extra key they allow is the one the server sends.
    assert!(
        chart_rules
            .to_string()
            .contains(&format!("\"userextras/{AUDIT_EXTRA_KEY}\"")),
        "the chart must allow the server's extra key {AUDIT_EXTRA_KEY}: {chart_rules}"
    );
}

#[test]
fn plain_manifests_are_up_to_date() {
    let script = repo().join("deploy/manifests/render.sh");
    let mut cmd = Command::new(&script);
    cmd.arg("--stdout");
    let rendered = ok(run(cmd, None), "deploy/manifests/render.sh --stdout");
    let committed =
        std::fs::read_to_string(repo().join("deploy/manifests/strongroom.yaml")).unwrap();
    assert!(
        rendered == committed,
        "deploy/manifests/strongroom.yaml is out of date: run deploy/manifests/render.sh"
    );
}

/// The app's Service and the metrics Service (the one labelled
/// `app.kubernetes.io/component: metrics`), the only two.
fn services(objects: &[Value]) -> (&Value, &Value) {
    let services: Vec<&Value> = objects.iter().filter(|o| o["kind"] == "Service").collect();
    assert_eq!(
        services.len(),
        2,
        "the app's Service and the metrics Service"
    );
    let is_metrics =
        |s: &Value| s["metadata"]["labels"]["app.kubernetes.io/component"] == "metrics";
    let metrics = *services
        .iter()
        .find(|s| is_metrics(s))
        .expect("a metrics Service");
    let app = *services
        .iter()
        .find(|s| !is_metrics(s))
        .expect("the app's Service");
    assert_eq!(
        app["metadata"]["name"],
        find(objects, "Deployment")["metadata"]["name"]
    );
    (app, metrics)
}

/// The ServiceMonitor of a render (as JSON; no Prometheus Operator CRDs on
/// the test API server, so kubectl cannot read it) and the rest of the
/// render.
fn split_service_monitor(yaml: &str) -> (Value, String) {
    let (monitors, rest): (Vec<&str>, Vec<&str>) = yaml
        .split("\n---")
        .partition(|d| d.contains("\nkind: ServiceMonitor\n"));
    assert_eq!(monitors.len(), 1, "one ServiceMonitor");
    (
        serde_norway::from_str(monitors[0]).unwrap(),
        rest.join("\n---"),
    )
}

/// The container's port, env, the Service, the ServiceMonitor and the
/// NetworkPolicy all follow `metrics.port`.
fn metrics_port_everywhere(objects: &[Value], port: u16) {
    let c = container(objects);
    let ports = c["ports"].as_array().unwrap();
    assert_eq!(
        ports.iter().find(|p| p["name"] == "metrics").unwrap()["containerPort"],
        port
    );
    assert_eq!(
        ports.iter().find(|p| p["name"] == "http").unwrap()["containerPort"],
        3000
    );
    assert_eq!(
        env(c, "STRONGROOM_METRICS_LISTEN"),
        Some(format!("0.0.0.0:{port}").as_str())
    );
    assert_eq!(env(c, "STRONGROOM_LISTEN"), Some("0.0.0.0:3000"));
    // The probes stay on the app's port.
    for probe in ["startupProbe", "livenessProbe", "readinessProbe"] {
        assert_eq!(c[probe]["httpGet"]["port"], "http", "{probe}");
    }
    let (app, metrics) = services(objects);
    assert_eq!(
        metrics["spec"]["ports"],
        json!([{"name": "metrics", "port": port, "targetPort": "metrics", "protocol": "TCP"}])
    );
    assert!(
        !app["spec"]["ports"].to_string().contains("metrics"),
        "{app}"
    );
    // The Ingress, when there is one, only reaches the app.
    if has_kind(objects, "Ingress") {
        assert_eq!(
            find(objects, "Ingress")["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
                ["port"]["name"],
            "http"
        );
    }
}

#[test]
fn metrics_are_served_on_their_own_port() {
    let defaults = objects(&must_template("x", &["--set", "ingress.enabled=true"]));
    metrics_port_everywhere(&defaults, 9090);
    // The app's port open to anyone by default, the metrics port to nobody.
    let policy = find(&defaults, "NetworkPolicy");
    assert_eq!(
        policy["spec"]["ingress"],
        json!([{"ports": [{"port": "http", "protocol": "TCP"}]}])
    );
    let moved = must_template(
        "x",
        &[
            "--set",
            "metrics.port=9102",
            "--set",
            "metrics.serviceMonitor.enabled=true",
            "--set-json",
            METRICS_FROM,
            "--set-json",
            INGRESS_FROM,
        ],
    );
    // The ServiceMonitor scrapes the metrics Service's port by name.
    let (monitor, without_monitor) = split_service_monitor(&moved);
    assert_eq!(monitor["spec"]["endpoints"][0]["port"], "metrics");
    let moved = objects(&without_monitor);
    metrics_port_everywhere(&moved, 9102);
    // Prometheus may reach the metrics port, the ingress controller the
    // app's: never the other way round.
    let ingress = &find(&moved, "NetworkPolicy")["spec"]["ingress"];
    assert_eq!(ingress.as_array().unwrap().len(), 2);
    assert_eq!(
        ingress[0]["ports"],
        json!([{"port": "http", "protocol": "TCP"}])
    );
    assert_eq!(
        ingress[0]["from"][0]["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"],
        "ingress-nginx"
    );
    assert_eq!(
        ingress[1]["ports"],
        json!([{"port": "metrics", "protocol": "TCP"}])
    );
    assert_eq!(
        ingress[1]["from"][0]["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"],
        "monitoring"
    );
    assert_eq!(
        ingress[1]["from"][0]["podSelector"]["matchLabels"]["app.kubernetes.io/name"],
        "prometheus"
    );
    for port in ["3000", "80", "70000"] {
        assert!(
            template("x", &["--set", &format!("metrics.port={port}")]).is_err(),
            "metrics.port={port} must not render"
        );
    }
}

#[test]
fn the_grafana_dashboard_is_a_configmap_for_the_sidecar() {
    let file =
        std::fs::read_to_string(repo().join("deploy/helm/strongroom/dashboards/strongroom.json"))
            .expect("the chart's dashboard");
    serde_json::from_str::<Value>(&file).expect("the dashboard is JSON");
    let on = objects(&must_template(
        "x",
        &["--set", "metrics.grafanaDashboard.enabled=true"],
    ));
    let map = find(&on, "ConfigMap");
    assert_eq!(map["metadata"]["name"], "x-strongroom-dashboard");
    assert_eq!(map["metadata"]["namespace"], crate::NS);
    assert_eq!(map["metadata"]["labels"]["grafana_dashboard"], "1");
    assert_eq!(
        map["data"]["strongroom.json"].as_str().unwrap(),
        file.trim_end(),
        "the ConfigMap holds dashboards/strongroom.json as it is"
    );
    // The sidecar's label, folder annotation and namespace are configurable.
    let custom = objects(&must_template(
        "x",
        &[
            "--set",
            "metrics.grafanaDashboard.enabled=true",
            "--set",
            "metrics.grafanaDashboard.label=dashboards",
            "--set",
            "metrics.grafanaDashboard.labelValue=strongroom",
            "--set",
            "metrics.grafanaDashboard.annotations.grafana_folder=Strongroom",
            "--set",
            "metrics.grafanaDashboard.namespace=monitoring",
        ],
    ));
    let map = find(&custom, "ConfigMap");
    assert_eq!(map["metadata"]["namespace"], "monitoring");
    assert_eq!(map["metadata"]["labels"]["dashboards"], "strongroom");
    assert_eq!(map["metadata"]["labels"]["grafana_dashboard"], Value::Null);
    assert_eq!(
        map["metadata"]["annotations"]["grafana_folder"],
        "Strongroom"
    );
}

#[test]
fn postgres_tls_mode_and_ca_bundle_reach_the_server() {
    let base = [
        "--set",
        "database.mode=postgres",
        "--set",
        "database.postgres.existingSecret=db",
        "--set",
        "audit.hmacKey.existingSecret=keys",
        "--set",
        "audit.chainKey.existingSecret=keys",
    ];
    let render = |more: &[&str]| {
        let mut args = base.to_vec();
        args.extend_from_slice(more);
        template("x", &args)
    };
    let deployment_volumes = |objects: &[Value]| {
        find(objects, "Deployment")["spec"]["template"]["spec"]["volumes"]
            .as_array()
            .unwrap()
            .clone()
    };
    // Default: verify-full against the public CAs, nothing mounted.
    let plain = objects(&render(&[]).unwrap());
    let c = container(&plain);
    assert_eq!(env(c, "PGSSLMODE"), Some("verify-full"));
    assert_eq!(env(c, "PGSSLROOTCERT"), None);
    assert!(
        !deployment_volumes(&plain)
            .iter()
            .any(|v| v["name"] == "database-ca")
    );
    // A CA bundle from a ConfigMap, mounted read-only where PGSSLROOTCERT points.
    let from_map = objects(
        &render(&[
            "--set",
            "database.postgres.tls.mode=verify-ca",
            "--set",
            "database.postgres.tls.caConfigMap=rds-ca",
            "--set",
            "database.postgres.tls.caConfigMapKey=global-bundle.pem",
        ])
        .unwrap(),
    );
    let c = container(&from_map);
    assert_eq!(env(c, "PGSSLMODE"), Some("verify-ca"));
    let mount = c["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "database-ca")
        .unwrap()
        .clone();
    assert_eq!(mount["readOnly"], true);
    assert_eq!(
        env(c, "PGSSLROOTCERT").unwrap(),
        format!("{}/ca.crt", mount["mountPath"].as_str().unwrap())
    );
    let volume = deployment_volumes(&from_map)
        .into_iter()
        .find(|v| v["name"] == "database-ca")
        .unwrap();
    assert_eq!(volume["configMap"]["name"], "rds-ca");
    assert_eq!(
        volume["configMap"]["items"],
        json!([{"key": "global-bundle.pem", "path": "ca.crt"}])
    );
    // An in-cluster PostgreSQL without TLS must be said so.
    let disabled = objects(&render(&["--set", "database.postgres.tls.mode=disable"]).unwrap());
    assert_eq!(env(container(&disabled), "PGSSLMODE"), Some("disable"));
    // What cannot work does not render.
    let cases: [(&[&str], &str); 4] = [
        (
            &[
                "--set",
                "database.postgres.tls.caSecret=a",
                "--set",
                "database.postgres.tls.caConfigMap=b",
            ],
            "not both",
        ),
        (
            &[
                "--set",
                "database.postgres.tls.mode=require",
                "--set",
                "database.postgres.tls.caSecret=a",
            ],
            "only checks certificates with verify-ca or verify-full",
        ),
        (
            &[
                "--set",
                "database.postgres.tls.mode=disable",
                "--set",
                "database.postgres.tls.caSecret=a",
            ],
            "only checks certificates with verify-ca or verify-full",
        ),
        (
            &["--set", "database.postgres.tls.mode=allow"],
            "/database/postgres/tls/mode",
        ),
    ];
    for (args, message) in cases {
        let err = render(args).expect_err(&format!("{args:?} must not render"));
        assert!(
            err.contains(message),
            "{args:?}: expected {message:?} in {err}"
        );
    }
}

#[test]
fn an_image_digest_pins_the_image() {
    let pinned = objects(&must_template(
        "x",
        &["--set", &format!("image.digest={DIGEST}")],
    ));
    let c = container(&pinned);
    assert_eq!(
        c["image"],
        format!("registry.example.com/strongroom/strongroom@{DIGEST}")
    );
    assert_eq!(c["imagePullPolicy"], "IfNotPresent", "a digest cannot move");
    assert_eq!(
        find(&pinned, "Deployment")["metadata"]["annotations"],
        Value::Null
    );
    // An explicit pull policy wins either way.
    let never = objects(&must_template("x", &["--set", "image.pullPolicy=Never"]));
    assert_eq!(container(&never)["imagePullPolicy"], "Never");
    for bad in ["latest", "sha256:abc", "sha512:0"] {
        assert!(
            template("x", &["--set", &format!("image.digest={bad}")]).is_err(),
            "image.digest={bad} must not render"
        );
    }
}
