//! What the chart's ServiceAccounts may do on the API server: impersonation
//! verbs only, classic or constrained (Secrets only), limited to the allowed
//! groups, never reading a Secret themselves; and the example team Roles.

use serde_json::Value;
use strongroom_server::infra::cluster::AUDIT_EXTRA_KEY;

use crate::{
    ALICE, ALICE_GROUP, BOB, BOB_GROUP, CONFIG_MAP, NS, SECRET, TENANT_NS,
    releases::{classic, constrained, constrained_extra_key, defaults, postgres},
    support::{has_kind, kubectl, names, ok, stdout},
};

#[test]
fn the_service_account_is_granted_impersonation_verbs_only() {
    for release in [classic(), constrained(), postgres()] {
        let rules = release.cluster_role_rules();
        let verbs: Vec<&str> = rules
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|r| r["verbs"].as_array().unwrap())
            .map(|v| v.as_str().unwrap())
            .collect();
        assert!(!verbs.is_empty());
        for verb in verbs {
            assert!(
                verb == "impersonate"
                    || verb == "impersonate:user-info"
                    || verb.starts_with("impersonate-on:user-info:"),
                "{verb} is not an impersonation verb: {rules}"
            );
        }
        // The bindings naming the ServiceAccount: the one to the
        // impersonator role, and in constrained mode the sealing Role in
        // the controller's namespace; every rule of the roles they grant
        // is an impersonation verb.
        let bindings: Vec<&Value> = release
            .objects
            .iter()
            .filter(|o| {
                o["subjects"]
                    .as_array()
                    .is_some_and(|s| s.iter().any(|s| s["kind"] == "ServiceAccount"))
            })
            .collect();
        let constrained = release
            .objects
            .iter()
            .any(|o| o["kind"] == "Role" && o["metadata"]["namespace"] == "kube-system");
        assert_eq!(
            bindings.len(),
            if constrained { 2 } else { 1 },
            "{:?}",
            names(&release.objects)
        );
        for binding in &bindings {
            let role = binding["roleRef"]["name"].as_str().unwrap();
            assert!(
                role.ends_with("-impersonator") || role.ends_with("-impersonator-sealing"),
                "{role}"
            );
        }
        let bound: Vec<&str> = bindings
            .iter()
            .map(|b| b["roleRef"]["name"].as_str().unwrap())
            .collect();
        for role in release.objects.iter().filter(|o| {
            (o["kind"] == "Role" || o["kind"] == "ClusterRole")
                && bound.contains(&o["metadata"]["name"].as_str().unwrap_or_default())
        }) {
            for verb in role["rules"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|r| r["verbs"].as_array().unwrap())
            {
                assert!(
                    verb.as_str().unwrap().starts_with("impersonate"),
                    "{verb} in {role}"
                );
            }
        }
    }
}

#[test]
fn classic_service_account_can_impersonate_but_cannot_read_secrets_itself() {
    let sa = classic();
    assert!(sa.can_i(&["impersonate", "users"]));
    assert!(sa.can_i(&["impersonate", "groups"]));
    assert!(sa.may("impersonate", "authentication.k8s.io", "uids", ""));
    assert!(sa.may(
        "impersonate",
        "authentication.k8s.io",
        "userextras",
        AUDIT_EXTRA_KEY
    ));
    assert!(!sa.may(
        "impersonate",
        "authentication.k8s.io",
        "userextras",
        "other-key"
    ));
    assert!(!sa.can_i(&["impersonate", "serviceaccounts", "-A"]));
    for verb in ["get", "list", "watch"] {
        assert!(!sa.can_i(&[verb, "secrets", "-A"]), "{verb} secrets");
        assert!(
            !sa.can_i(&[verb, "secrets", "-n", "team-a"]),
            "{verb} secrets in team-a"
        );
    }
    assert!(!sa.can_i(&["create", "secrets", "-n", "team-a"]));
    assert!(!sa.can_i(&["get", "configmaps", "-n", "team-a"]));
    assert!(!sa.can_i(&["create", "pods", "-n", NS]));
    // With its own token, not only in a review:
    let own = sa.as_user("", &[], &[], &["get", "secret", SECRET, "-n", "team-a"]);
    assert!(own.is_err_and(|e| e.contains("Forbidden")));
}

#[test]
fn classic_service_account_acts_for_alice_and_bob_as_their_rbac_allows() {
    let sa = classic();
    let extra = format!("{AUDIT_EXTRA_KEY}=helm-test");
    let get = |ns| vec!["get", "secret", SECRET, "-n", ns, "-o", "name"];
    let alice = sa
        .as_user(ALICE, &[ALICE_GROUP], &[&extra], &get("team-a"))
        .expect("alice reads team-a's secret through the backend");
    assert_eq!(alice.trim(), format!("secret/{SECRET}"));
    sa.as_user(BOB, &[BOB_GROUP], &[&extra], &get("team-b"))
        .expect("bob reads team-b's secret");
    let refused = sa
        .as_user(BOB, &[BOB_GROUP], &[], &get("team-a"))
        .expect_err("bob must not read team-a's secret");
    assert!(
        refused.contains(&format!("User \"{BOB}\" cannot get resource \"secrets\"")),
        "refused by bob's own RBAC: {refused}"
    );
    // Classic impersonation is all or nothing: the backend can act for alice
    // on anything alice may touch, ConfigMaps included.
    sa.as_user(
        ALICE,
        &[ALICE_GROUP],
        &[],
        &["get", "configmap", CONFIG_MAP, "-n", "team-a"],
    )
    .expect("classic mode is not limited to Secrets");
}

#[test]
fn constrained_service_account_can_act_for_users_on_secrets_only() {
    let sa = constrained();
    // Nothing of classic impersonation.
    assert!(!sa.can_i(&["impersonate", "users"]));
    assert!(!sa.can_i(&["impersonate", "groups"]));
    // impersonate:user-info on who is impersonated ...
    for resource in ["users", "groups", "uids"] {
        assert!(
            sa.may(
                "impersonate:user-info",
                "authentication.k8s.io",
                resource,
                ""
            ),
            "impersonate:user-info {resource}"
        );
    }
    assert!(sa.may(
        "impersonate:user-info",
        "authentication.k8s.io",
        "userextras",
        constrained_extra_key()
    ));
    assert!(!sa.may(
        "impersonate:serviceaccount",
        "authentication.k8s.io",
        "serviceaccounts",
        ""
    ));
    // ... and impersonate-on:user-info:<verb> on what is done: Secrets.
    for verb in [
        "get", "list", "watch", "create", "update", "patch", "delete",
    ] {
        let v = format!("impersonate-on:user-info:{verb}");
        assert!(sa.can_i(&[&v, "secrets", "-n", "team-a"]), "{v} secrets");
        assert!(
            !sa.can_i(&[&v, "configmaps", "-n", "team-a"]),
            "{v} configmaps"
        );
        // Workloads: read for "Used by", and patch (a restart) only on
        // Deployments, StatefulSets and DaemonSets.
        assert_eq!(
            sa.can_i(&[&v, "pods", "-n", "team-a"]),
            verb == "list",
            "{v} pods"
        );
        assert_eq!(
            sa.can_i(&[&v, "deployments.apps", "-n", "team-a"]),
            matches!(verb, "get" | "list" | "patch"),
            "{v} deployments"
        );
        assert_eq!(
            sa.can_i(&[&v, "jobs.batch", "-n", "team-a"]),
            verb == "list",
            "{v} jobs"
        );
        assert!(
            !sa.can_i(&[&v, "replicasets.apps", "-n", "team-a"]),
            "{v} replicasets"
        );
        // Sealing for Git: SealedSecrets read and created, ExternalSecrets read.
        assert_eq!(
            sa.can_i(&[&v, "sealedsecrets.bitnami.com", "-n", "team-a"]),
            matches!(verb, "get" | "create"),
            "{v} sealedsecrets"
        );
        assert_eq!(
            sa.can_i(&[&v, "externalsecrets.external-secrets.io", "-n", "team-a"]),
            verb == "get",
            "{v} externalsecrets"
        );
    }
    // The controller's certificate through the service proxy: that Service
    // only.
    let proxy = |service: &str| {
        sa.can_i(&[
            "impersonate-on:user-info:get",
            &format!("services/{service}"),
            "--subresource=proxy",
            "-n",
            "kube-system",
        ])
    };
    assert!(proxy("sealed-secrets-controller:http"));
    assert!(!proxy("kubernetes-dashboard:http"));
    // In the controller's namespace only.
    assert!(!sa.can_i(&[
        "impersonate-on:user-info:get",
        "services/sealed-secrets-controller:http",
        "--subresource=proxy",
        "-n",
        "team-a",
    ]));
    let cert = sa
        .as_user(
            ALICE,
            &[ALICE_GROUP],
            &[],
            &[
                "get",
                "--raw",
                "/api/v1/namespaces/kube-system/services/sealed-secrets-controller:http/proxy/v1/cert.pem",
            ],
        )
        .expect("alice fetches the sealing certificate through the backend");
    assert!(cert.starts_with("-----BEGIN CERTIFICATE-----"), "{cert}");
    // Itself: no Secrets.
    for verb in ["get", "list", "watch"] {
        assert!(!sa.can_i(&[verb, "secrets", "-A"]), "{verb} secrets");
    }

    // Real requests through the ServiceAccount's own token.
    let extra = format!("{}=helm-test", constrained_extra_key());
    let secret = sa
        .as_user(
            ALICE,
            &[ALICE_GROUP],
            &[&extra],
            &[
                "--as-uid=alice",
                "get",
                "secret",
                SECRET,
                "-n",
                "team-a",
                "-o",
                "name",
            ],
        )
        .expect("alice's secret read through constrained impersonation");
    assert_eq!(secret.trim(), format!("secret/{SECRET}"));
    sa.as_user(
        BOB,
        &[BOB_GROUP],
        &[],
        &["get", "secret", SECRET, "-n", "team-b"],
    )
    .expect("bob's secret read");
    let config_map = sa
        .as_user(
            ALICE,
            &[ALICE_GROUP],
            &[],
            &["get", "configmap", CONFIG_MAP, "-n", "team-a"],
        )
        .expect_err("alice may read the ConfigMap, but not through the backend");
    assert!(
        config_map.contains("cannot impersonate-on:user-info:get resource \"configmaps\""),
        "{config_map}"
    );
    // Even alice herself (with kubectl as admin impersonating her) may read it:
    // the refusal above is the backend's limit, not alice's.
    ok(
        kubectl(
            &[
                "get",
                "configmap",
                CONFIG_MAP,
                "-n",
                "team-a",
                &format!("--as={ALICE}"),
                &format!("--as-group={ALICE_GROUP}"),
            ],
            None,
        ),
        "alice reads the ConfigMap herself",
    );
    let masters = sa
        .as_user(
            "mallory",
            &["system:masters"],
            &[],
            &["get", "secret", SECRET, "-n", "team-a"],
        )
        .expect_err("system:masters must never be impersonated");
    assert!(masters.contains("Forbidden"), "{masters}");
    let service_account = sa
        .as_user(
            "system:serviceaccount:kube-system:default",
            &[],
            &[],
            &["get", "secret", SECRET, "-n", "team-a"],
        )
        .expect_err("service accounts are not users");
    assert!(service_account.contains("Forbidden"), "{service_account}");
}

#[test]
fn constrained_impersonation_refuses_extra_keys_without_a_domain_prefix() {
    // Why the chart refuses constrained mode with such a key: the API server
    // rejects it before RBAC is even asked.
    let sa = constrained();
    let err = sa
        .as_user(
            ALICE,
            &[ALICE_GROUP],
            &["strongroom-audit-id=helm-test"],
            &["get", "secret", SECRET, "-n", "team-a"],
        )
        .expect_err("an extra key without a domain prefix");
    assert!(
        err.contains("impersonating an invalid key in extra is not allowed"),
        "{err}"
    );
}

#[test]
fn allowed_groups_limit_which_groups_can_be_impersonated() {
    let sa = postgres();
    sa.as_user(
        ALICE,
        &[ALICE_GROUP],
        &[],
        &["get", "secret", SECRET, "-n", "team-a"],
    )
    .expect("a listed group");
    for group in ["system:masters", "oidc:someone-else"] {
        let err = sa
            .as_user(
                ALICE,
                &[group],
                &[],
                &["get", "secret", SECRET, "-n", "team-a"],
            )
            .expect_err("a group outside rbac.allowedGroups");
        assert!(
            err.contains("cannot impersonate resource \"groups\""),
            "{group}: {err}"
        );
    }
}

#[test]
fn classic_impersonation_without_allowed_groups_reaches_system_masters() {
    // Why the NOTES warn and rbac.allowedGroups exists: classic "impersonate
    // groups" without resourceNames includes system:masters, so the token
    // of the classic release is as strong as cluster-admin.
    let sa = classic();
    let masters = sa.as_user(
        "mallory",
        &["system:masters"],
        &[],
        &["auth", "can-i", "*", "*"],
    );
    assert_eq!(
        masters.expect("classic may impersonate any group").trim(),
        "yes"
    );
}

#[test]
fn example_team_roles_bind_the_teams_groups() {
    let release = postgres();
    assert!(has_kind(&release.objects, "RoleBinding"));
    let can = |groups: &[&str], args: &[&str]| {
        let mut all = vec!["auth", "can-i"];
        all.extend_from_slice(args);
        let user = "--as=oidc:helm-test-person".to_string();
        all.push(&user);
        let group_flags: Vec<String> = groups.iter().map(|g| format!("--as-group={g}")).collect();
        all.extend(group_flags.iter().map(String::as_str));
        stdout(&kubectl(&all, None)).trim() == "yes"
    };
    let editors = ["oidc:helm-test-editors"];
    let listers = ["oidc:helm-test-listers"];
    let auditors = ["oidc:helm-test-auditors"];
    for verb in ["get", "list", "create", "update", "delete"] {
        assert!(
            can(&editors, &[verb, "secrets", "-n", TENANT_NS]),
            "editors {verb}"
        );
    }
    assert!(
        !can(&editors, &["get", "secrets", "-n", "team-b"]),
        "only their namespace"
    );
    assert!(can(&listers, &["list", "secrets", "-n", TENANT_NS]));
    assert!(!can(&listers, &["get", "secrets", "-n", TENANT_NS]));
    assert!(!can(&listers, &["create", "secrets", "-n", TENANT_NS]));
    assert!(can(&auditors, &["list", "namespaces"]));
    assert!(!can(&auditors, &["get", "secrets", "-n", TENANT_NS]));
    assert!(!can(&auditors, &["list", "secrets", "-n", TENANT_NS]));
}

#[test]
fn the_default_is_the_narrowest_mode_and_system_masters_reaches_nothing_but_secrets() {
    // rbac.mode defaults to auto: constrained impersonation where the
    // cluster has it (this one does). Classic impersonation would let the
    // token act as system:masters for anything (see
    // classic_impersonation_without_allowed_groups_reaches_system_masters).
    let sa = defaults();
    let role = sa
        .objects
        .iter()
        .find(|o| o["kind"] == "ClusterRole")
        .expect("the impersonator ClusterRole");
    assert_eq!(
        role["metadata"]["labels"]["strongroom.dev/rbac-mode"],
        "constrained"
    );
    for action in [
        &["get", "nodes"][..],
        &["get", "configmaps", "-A"],
        &["create", "namespace", "taken-over"],
        &[
            "create",
            "clusterrolebinding",
            "taken-over",
            "--clusterrole=cluster-admin",
            "--user=mallory",
        ],
        &["get", "pods", "-n", "kube-system"],
    ] {
        let err = sa
            .as_user("mallory", &["system:masters"], &[], action)
            .expect_err("system:masters reaches nothing beyond Secrets");
        assert!(
            err.contains("cannot impersonate")
                || err.contains("forbidden")
                || err.contains("Forbidden"),
            "{action:?}: {err}"
        );
    }
    assert!(
        kubectl(&["get", "namespace", "taken-over"], None)
            .status
            .code()
            != Some(0),
        "nothing was created"
    );
}
