//! "Used by" and "restart after rotation" (issue 17, items 1 and 2) through
//! the JSON API, as real users against the real API server: every kind of
//! reference, RBAC that hides kinds, missing and optional keys, paging and
//! the scan cap, and restarts that are `kubectl rollout restart`'s patch,
//! audited, and refused where they must be.
//!
//! Workloads are objects only (the test stack has no kubelet or
//! controllers), which is all the API server needs to answer for them.

mod common;

use common::{ApiSession, Stack, TestServer, b64, kubectl, unique};
use serde_json::{Value, json};

/// `kubectl apply -f -` of `objects` (a List) as the admin.
fn apply(objects: Vec<Value>) {
    use std::io::Write;
    let stack = Stack::get();
    let list = json!({"apiVersion": "v1", "kind": "List", "items": objects});
    let mut child = std::process::Command::new(stack.var("KUBECTL"))
        .arg("--kubeconfig")
        .arg(stack.var("ADMIN_KUBECONFIG"))
        .args(["apply", "-f", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run kubectl");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(list.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "kubectl apply: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn meta(ns: &str, name: &str) -> Value {
    json!({"name": name, "namespace": ns, "labels": {"app": name}})
}

/// A pod template whose one container carries `container`'s fields.
fn template(name: &str, spec: Value) -> Value {
    let mut spec = spec;
    if spec.get("containers").is_none() {
        spec["containers"] = json!([{"name": "app", "image": "busybox"}]);
    }
    json!({"metadata": {"labels": {"app": name}}, "spec": spec})
}

fn deployment(ns: &str, name: &str, spec: Value) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta(ns, name),
        "spec": {"selector": {"matchLabels": {"app": name}}, "template": template(name, spec)}})
}

/// A pod of `deployment`'s ReplicaSet, named and owned as the controllers
/// do (the owner's uid is not checked without a garbage collector).
fn replica_set_pod(ns: &str, deployment: &str, secret: &str) -> Value {
    let hash = "7c9f8d";
    json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": format!("{deployment}-{hash}-x2x4k"), "namespace": ns,
            "labels": {"app": deployment, "pod-template-hash": hash},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                "name": format!("{deployment}-{hash}"), "uid": uuid::Uuid::new_v4().to_string(),
                "controller": true}]},
        "spec": {"containers": [{"name": "app", "image": "busybox",
            "envFrom": [{"secretRef": {"name": secret}}]}]}})
}

/// A secret with keys `username` and `password`, made by the admin.
fn two_key_secret(ns: &str, name: &str) {
    let out = kubectl(&[
        "create",
        "secret",
        "generic",
        name,
        "-n",
        ns,
        "--from-literal=username=app",
        "--from-literal=password=s3cr3t-value",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The usage of `ns/name` as `who` sees it (must answer 200).
async fn usage(who: &ApiSession, ns: &str, name: &str) -> Value {
    let (status, body) = who
        .get(&format!("/namespaces/{ns}/secrets/{name}/usage"))
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

/// `kind/name`'s consumer entry, if listed.
fn consumer<'a>(usage: &'a Value, kind: &str, name: &str) -> Option<&'a Value> {
    usage["consumers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["kind"] == kind && c["name"] == name)
}

/// A consumer's uses as short strings: `how container/volume key [optional] [missing]`.
fn uses(c: &Value) -> Vec<String> {
    c["uses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            let mut s = format!(
                "{} {} {}",
                u["how"].as_str().unwrap(),
                u["container"]
                    .as_str()
                    .or(u["volume"].as_str())
                    .unwrap_or("-"),
                u["key"].as_str().unwrap_or("*"),
            );
            if u["optional"] == true {
                s.push_str(" optional");
            }
            if u["missing"] == true {
                s.push_str(" missing");
            }
            s
        })
        .collect()
}

#[tokio::test]
async fn used_by_names_every_kind_of_reference_and_what_carol_may_not_see() {
    let server = TestServer::start(&[]).await;
    let ns = "team-a";
    let secret = unique("used");
    let other = unique("other");
    two_key_secret(ns, &secret);
    two_key_secret(ns, &other);
    let p = unique("w");
    let n = |s: &str| format!("{p}-{s}");
    let env_key = |var: &str, key: &str| json!({"name": var, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}});
    apply(vec![
        // env from one key, in an init container and a container
        deployment(
            ns,
            &n("env"),
            json!({
                "initContainers": [{"name": "migrate", "image": "busybox", "env": [env_key("DB_USER", "username")]}],
                "containers": [{"name": "app", "image": "busybox", "env": [env_key("DB_PASSWORD", "password")]}]
            }),
        ),
        // envFrom: all keys
        json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": meta(ns, &n("sts")),
            "spec": {"serviceName": n("sts"), "selector": {"matchLabels": {"app": n("sts")}},
                "template": template(&n("sts"), json!({"containers": [{"name": "db", "image": "busybox",
                    "envFrom": [{"secretRef": {"name": secret}}]}]}))}}),
        // a secret volume with items
        json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": meta(ns, &n("ds")),
            "spec": {"selector": {"matchLabels": {"app": n("ds")}},
                "template": template(&n("ds"), json!({"volumes": [{"name": "creds",
                    "secret": {"secretName": secret, "items": [{"key": "username", "path": "user"}]}}]}))}}),
        // a projected volume
        json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": meta(ns, &n("job")),
            "spec": {"template": template(&n("job"), json!({"restartPolicy": "Never", "volumes": [{"name": "all",
                "projected": {"sources": [{"secret": {"name": secret, "items": [{"key": "password", "path": "pw"}]}}]}}]}))}}),
        // a key the secret lacks
        json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": meta(ns, &n("cron")),
            "spec": {"schedule": "0 3 * * *", "jobTemplate": {"spec": {"template": template(&n("cron"),
                json!({"restartPolicy": "Never", "containers": [{"name": "backup", "image": "busybox",
                    "env": [env_key("TOKEN", "token")]}]}))}}}}),
        // imagePullSecrets, and an optional key the secret lacks
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": meta(ns, &n("pod")),
            "spec": {"imagePullSecrets": [{"name": secret}], "containers": [{"name": "app", "image": "busybox",
                "env": [{"name": "MAYBE", "valueFrom": {"secretKeyRef": {"name": secret, "key": "maybe", "optional": true}}}]}]}}),
        // a pod that uses another secret only
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": meta(ns, &n("other")),
            "spec": {"containers": [{"name": "app", "image": "busybox", "envFrom": [{"secretRef": {"name": other}}]}]}}),
        // pods made by a Deployment's ReplicaSet (as the controllers would
        // name and own them): one of a listed Deployment, one of a
        // Deployment that is not there
        replica_set_pod(ns, &n("env"), &secret),
        replica_set_pod(ns, &n("gone"), &secret),
        json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta(ns, &n("sa")),
            "imagePullSecrets": [{"name": secret}], "secrets": [{"name": secret}]}),
        json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": meta(ns, &n("ing")),
            "spec": {"tls": [{"hosts": ["app.example.com"], "secretName": secret}],
                "rules": [{"host": "app.example.com"}]}}),
    ]);

    let alice = ApiSession::new(&server.url, "alice").await;
    let seen = usage(&alice, ns, &secret).await;
    assert_eq!(seen["not_visible"], json!([]), "{seen}");
    assert_eq!(seen["truncated"], json!([]), "{seen}");
    assert_eq!(seen["failed"], json!([]), "{seen}");
    assert_eq!(seen["keys_checked"], true);
    let expect = |kind: &str, name: &str, want: &[&str]| {
        let c = consumer(&seen, kind, name).unwrap_or_else(|| panic!("{kind}/{name} in {seen}"));
        assert_eq!(uses(c), want, "{kind}/{name}");
        c.clone()
    };
    let d = expect(
        "Deployment",
        &n("env"),
        &["env migrate username", "env app password"],
    );
    assert_eq!(
        d["restart"],
        json!({"kind": "Deployment", "name": n("env")})
    );
    assert_eq!(d["instances"], 1, "its pod is counted, not listed");
    let orphan = expect(
        "Pod",
        &format!("{}-7c9f8d-x2x4k", n("gone")),
        &["envFrom app *"],
    );
    assert_eq!(
        orphan["restart"],
        json!({"kind": "Deployment", "name": n("gone")}),
        "a pod leads to its Deployment"
    );
    assert_eq!(d["uses"][1]["variable"], "DB_PASSWORD");
    let s = expect("StatefulSet", &n("sts"), &["envFrom db *"]);
    assert_eq!(s["restart"]["kind"], "StatefulSet");
    expect("DaemonSet", &n("ds"), &["volume creds username"]);
    let j = expect("Job", &n("job"), &["projected all password"]);
    assert_eq!(j["restart"], Value::Null, "a Job is not restarted");
    expect("CronJob", &n("cron"), &["env backup token missing"]);
    expect(
        "Pod",
        &n("pod"),
        &["env app maybe optional", "imagePullSecret - *"],
    );
    expect(
        "ServiceAccount",
        &n("sa"),
        &["imagePullSecret - *", "serviceAccountSecret - *"],
    );
    expect("Ingress", &n("ing"), &["tls - *"]);
    assert!(
        consumer(&seen, "Pod", &n("other")).is_none(),
        "a pod of another secret is not listed: {seen}"
    );
    assert_eq!(
        seen["consumers"].as_array().unwrap().len(),
        9,
        "only the workloads made here use the secret: {seen}"
    );
    // Values never appear in the answer.
    assert!(!seen.to_string().contains("s3cr3t-value"));

    // carol may list secrets in team-a, but no workloads: every kind is
    // named as not visible to her, and nothing of them leaks.
    let carol = ApiSession::new(&server.url, "carol").await;
    let hers = usage(&carol, ns, &secret).await;
    let mut hidden: Vec<String> = hers["not_visible"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap().to_string())
        .collect();
    hidden.sort();
    assert_eq!(
        hidden,
        [
            "CronJob",
            "DaemonSet",
            "Deployment",
            "Ingress",
            "Job",
            "Pod",
            "ServiceAccount",
            "StatefulSet"
        ],
        "{hers}"
    );
    assert_eq!(hers["consumers"], json!([]));
    assert_eq!(hers["keys_checked"], false, "carol cannot get the secret");

    // bob cannot see team-a's workloads either.
    let bob = ApiSession::new(&server.url, "bob").await;
    let his = usage(&bob, ns, &secret).await;
    assert_eq!(his["consumers"], json!([]));
    assert_eq!(his["not_visible"].as_array().unwrap().len(), 8, "{his}");
    server.stop();
}

/// The pod template's `restartedAt` annotation of `kind/name`.
fn restarted_at(ns: &str, kind: &str, name: &str) -> String {
    let out = kubectl(&[
        "get",
        kind,
        name,
        "-n",
        ns,
        "-o",
        "jsonpath={.spec.template.metadata.annotations.kubectl\\.kubernetes\\.io/restartedAt}",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A timestamp's shape: its digits as `d`.
fn shape(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_ascii_digit() { 'd' } else { c })
        .collect()
}

#[tokio::test]
async fn restart_after_rotation_is_kubectls_patch_audited_and_refused_where_it_must_be() {
    let server = TestServer::start(&[]).await;
    let ns = "team-a";
    let secret = unique("rot");
    two_key_secret(ns, &secret);
    let p = unique("r");
    let (web, worker, unrelated) = (format!("{p}-web"), format!("{p}-wrk"), format!("{p}-un"));
    let env = json!({"containers": [{"name": "app", "image": "busybox",
        "env": [{"name": "PW", "valueFrom": {"secretKeyRef": {"name": secret, "key": "password"}}}]}]});
    apply(vec![
        deployment(ns, &web, env.clone()),
        deployment(ns, &worker, env.clone()),
        deployment(ns, &unrelated, json!({})),
        {
            let mut paused = deployment(ns, &format!("{p}-paused"), env.clone());
            paused["spec"]["paused"] = json!(true);
            paused
        },
    ]);

    let alice = ApiSession::new(&server.url, "alice").await;
    // Rotate the password.
    let (_, detail) = alice
        .get(&format!("/namespaces/{ns}/secrets/{secret}"))
        .await;
    let (status, body) = alice
        .patch(
            &format!("/namespaces/{ns}/secrets/{secret}"),
            json!({"resource_version": detail["resource_version"],
                "set": [{"key": "password", "value": b64(b"rotated-value")}]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    let restart = |who: &ApiSession, workloads: Value| {
        let who = who.clone();
        let path = format!("/namespaces/{ns}/secrets/{secret}/restart");
        async move {
            who.post(&path, json!({"workloads": workloads, "keys": ["password"]}))
                .await
        }
    };
    let (status, body) = restart(&alice, json!([{"kind": "Deployment", "name": web}])).await;
    assert_eq!(status, 200, "{body}");
    let result = &body["results"][0];
    assert_eq!(result["outcome"], "done", "{body}");
    let written = result["restarted_at"].as_str().unwrap().to_string();
    let audit_id = result["audit_id"].as_str().unwrap().to_string();

    // The annotation is on the pod template, exactly as written, and has
    // the shape of the one `kubectl rollout restart` writes.
    let ours = restarted_at(ns, "deployment", &web);
    assert_eq!(ours, written);
    chrono::DateTime::parse_from_rfc3339(&ours).expect("RFC 3339");
    let out = kubectl(&[
        "rollout",
        "restart",
        &format!("deployment/{worker}"),
        "-n",
        ns,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let theirs = restarted_at(ns, "deployment", &worker);
    chrono::DateTime::parse_from_rfc3339(&theirs).expect("kubectl's is RFC 3339");
    assert_eq!(
        shape(&ours),
        shape(&theirs),
        "ours {ours}, kubectl's {theirs}"
    );

    // The restart is in the secret's history: who, which workload, which keys.
    let (status, history) = alice
        .get(&format!(
            "/namespaces/{ns}/secrets/{secret}/history?limit=20"
        ))
        .await;
    assert_eq!(status, 200, "{history}");
    let record = history["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == audit_id.as_str())
        .unwrap_or_else(|| panic!("the restart's record in {history}"));
    assert_eq!(record["action"], "restart");
    assert_eq!(record["outcome"], "allowed");
    assert_eq!(record["user"], "oidc:alice@example.com");
    assert_eq!(record["keys"], json!(["password"]));
    assert_eq!(record["reason"], format!("Deployment/{web}"));

    // bob may not read team-a's secret, so he may not restart in its name:
    // forbidden, and nothing patched.
    let bob = ApiSession::new(&server.url, "bob").await;
    let (status, body) = restart(&bob, json!([{"kind": "Deployment", "name": web}])).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["code"], "forbidden", "{body}");
    assert_eq!(restarted_at(ns, "deployment", &web), written);

    // Both restarts are in the trail an auditor reads: alice's allowed,
    // bob's denied (refused by Kubernetes, recorded all the same).
    let dave = ApiSession::new(&server.url, "dave").await;
    let (status, trail) = dave
        .get(&format!("/audit?secret={secret}&action=restart"))
        .await;
    assert_eq!(status, 200, "{trail}");
    let seen: Vec<(String, String, String)> = trail["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["user"].as_str().unwrap().to_string(),
                r["outcome"].as_str().unwrap().to_string(),
                r["reason"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let workload = format!("Deployment/{web}");
    assert!(
        seen.contains(&("oidc:alice@example.com".into(), "allowed".into(), workload)),
        "{seen:?}"
    );
    assert!(
        seen.contains(&(
            "oidc:bob@example.com".into(),
            "denied".into(),
            format!("restart refused: the user may not get secret {secret}")
        )),
        "{seen:?}"
    );

    // A workload that does not use the secret refuses the whole request,
    // and the one that does is not restarted either.
    let (status, body) = restart(
        &alice,
        json!([{"kind": "Deployment", "name": worker}, {"kind": "Deployment", "name": unrelated}]),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains(&unrelated),
        "{body}"
    );
    assert_eq!(restarted_at(ns, "deployment", &worker), theirs);
    assert_eq!(restarted_at(ns, "deployment", &unrelated), "");

    // Only Deployments, StatefulSets and DaemonSets.
    let (status, body) = restart(&alice, json!([{"kind": "Pod", "name": web}])).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["field"], "workloads.0.kind");

    // A paused Deployment is not restarted, as kubectl would refuse it too.
    let (status, body) = restart(
        &alice,
        json!([{"kind": "Deployment", "name": format!("{p}-paused")}]),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["results"][0]["outcome"], "failed", "{body}");
    assert!(
        body["results"][0]["message"]
            .as_str()
            .unwrap()
            .contains("paused"),
        "{body}"
    );
    assert_eq!(restarted_at(ns, "deployment", &format!("{p}-paused")), "");

    // One that does not exist: not found.
    let (status, body) = restart(
        &alice,
        json!([{"kind": "StatefulSet", "name": format!("{p}-nope")}]),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["results"][0]["outcome"], "not-found", "{body}");

    // Without the CSRF header, nothing happens.
    let r = alice
        .c
        .post(format!(
            "{}/api/v1/namespaces/{ns}/secrets/{secret}/restart",
            server.url
        ))
        .json(&json!({"workloads": [{"kind": "Deployment", "name": web}], "keys": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(restarted_at(ns, "deployment", &web), written);
    server.stop();
}

#[tokio::test]
async fn many_pods_are_paged_and_a_lower_cap_is_said() {
    // team-b and bob: the pods made here do not slow team-a's tests.
    let ns = "team-b";
    let secret = unique("many");
    two_key_secret(ns, &secret);
    let p = unique("pp");
    let pods: Vec<Value> = (0..600)
        .map(|i| {
            json!({"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": format!("{p}-{i}"), "namespace": ns, "labels": {"strongroom-test": p}},
                "spec": {"containers": [{"name": "app", "image": "busybox", "envFrom": [{"secretRef": {"name": secret}}]}]}})
        })
        .collect();
    apply(pods);

    let server = TestServer::start(&[]).await;
    let bob = ApiSession::new(&server.url, "bob").await;
    let seen = usage(&bob, ns, &secret).await;
    let ours = |u: &Value| {
        u["consumers"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["kind"] == "Pod")
            .count()
    };
    // More than one page of 500: all 600 are found.
    assert_eq!(ours(&seen), 600, "truncated: {}", seen["truncated"]);
    assert_eq!(seen["truncated"], json!([]));
    assert_eq!(seen["skipped_malformed"], 0);
    assert_eq!(seen["scan_limit"], 2000);
    server.stop();

    let capped = TestServer::start(&["--usage-scan-limit", "250"]).await;
    let bob = ApiSession::new(&capped.url, "bob").await;
    let seen = usage(&bob, ns, &secret).await;
    assert_eq!(
        seen["truncated"],
        json!([{"kind": "Pod", "scanned": 250}]),
        "{}",
        seen["truncated"]
    );
    assert!(ours(&seen) <= 250, "{}", ours(&seen));
    assert_eq!(seen["scan_limit"], 250);
    capped.stop();

    let out = kubectl(&[
        "delete",
        "pods",
        "-n",
        ns,
        "-l",
        &format!("strongroom-test={p}"),
        "--grace-period=0",
        "--force",
        "--wait=false",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
