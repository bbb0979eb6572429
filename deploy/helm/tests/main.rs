//! The Helm chart (`deploy/helm/strongroom`) and the plain manifests rendered
//! from it, checked with a real `helm` (built from source by
//! `deploy/helm-bin/build.sh`, cached) and the real API server of the local
//! stack: the chart lints and renders, refuses configurations that cannot
//! work, every rendered object is accepted by server-side apply, and the
//! ServiceAccount it creates can act for users (classic impersonation) or
//! act for users on Secrets only (constrained impersonation), but can never
//! read a Secret itself.
//!
//! The test target `helm` of `strongroom-server` (declared in
//! server/Cargo.toml, so `CARGO_MANIFEST_DIR` is server/), kept next to the
//! chart: `render` lints and renders the chart with `helm` alone; `install`
//! applies and installs it on the API server and runs the server's own
//! Kubernetes access under its ServiceAccounts; `rbac` checks what those
//! ServiceAccounts may and may not do; `checkov` runs the policy scanner
//! over every rendered configuration. `support` runs helm and kubectl and
//! reads rendered objects; `releases` holds the fixtures, the
//! configurations and the releases installed once per test process.

mod checkov;
#[path = "../../../server/tests/common/mod.rs"]
mod common;
mod install;
mod pod;
mod rbac;
mod releases;
mod render;
mod support;

/// Namespace the test releases are installed into (labelled to enforce the
/// "restricted" Pod Security Standard).
const NS: &str = "strongroom-helm-test";
/// Namespace of the example team Roles.
const TENANT_NS: &str = "strongroom-helm-tenant";
const FIELD_MANAGER: &str = "strongroom-helm-test";
/// A Secret and a ConfigMap the tests read as alice and bob.
const SECRET: &str = "helm-test-secret";
const CONFIG_MAP: &str = "helm-test-config";

const ALICE: &str = "oidc:alice@example.com";
const ALICE_GROUP: &str = "oidc:team-a-editors";
const BOB: &str = "oidc:bob@example.com";
const BOB_GROUP: &str = "oidc:team-b-editors";
