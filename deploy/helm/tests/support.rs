//! Running helm and kubectl, and reading the objects they render.

use std::{
    io::Write,
    path::{Path, PathBuf},
    process::{Command, Output, Stdio},
    sync::OnceLock,
};

use serde_json::Value;

use crate::{FIELD_MANAGER, NS, common::Stack};

pub(crate) fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("server/ has a parent")
        .to_path_buf()
}

pub(crate) fn chart() -> String {
    repo().join("deploy/helm/strongroom").display().to_string()
}

/// The helm binary, built (once, then cached) by `deploy/helm-bin/build.sh`.
pub(crate) fn helm() -> &'static Path {
    static HELM: OnceLock<PathBuf> = OnceLock::new();
    HELM.get_or_init(|| {
        let script = repo().join("deploy/helm-bin/build.sh");
        let out = run(Command::new(&script), None);
        assert!(
            out.status.success(),
            "{} failed:\n{}",
            script.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8(out.stdout).unwrap();
        let path = PathBuf::from(stdout.lines().last().unwrap_or_default().trim());
        assert!(
            path.is_file(),
            "{} printed {:?}, which is not a file",
            script.display(),
            path
        );
        path
    })
}

/// Runs `cmd` with `stdin` as its input and collects its output.
pub(crate) fn run(mut cmd: Command, stdin: Option<&str>) -> Output {
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    // Written from a thread, so a child that answers before it has read all
    // of its input cannot deadlock with us on full pipes.
    let writer = stdin.map(|input| {
        let mut pipe = child.stdin.take().unwrap();
        let input = input.to_string();
        std::thread::spawn(move || pipe.write_all(input.as_bytes()))
    });
    let out = child.wait_with_output().unwrap();
    if let Some(w) = writer {
        w.join().unwrap().unwrap();
    }
    out
}

pub(crate) fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub(crate) fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Stdout of a command that must succeed.
pub(crate) fn ok(out: Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what} failed:\n{}{}",
        stderr(&out),
        stdout(&out)
    );
    stdout(&out)
}

pub(crate) fn helm_cmd(args: &[&str]) -> Output {
    let mut cmd = Command::new(helm());
    cmd.args(args);
    run(cmd, None)
}

/// `helm template` of the chart into [`NS`]: the YAML, or helm's error.
pub(crate) fn template(release: &str, args: &[&str]) -> Result<String, String> {
    let chart = chart();
    let mut all = vec!["template", release, chart.as_str(), "--namespace", NS];
    all.extend_from_slice(args);
    let out = helm_cmd(&all);
    if out.status.success() {
        Ok(stdout(&out))
    } else {
        Err(stderr(&out))
    }
}

pub(crate) fn must_template(release: &str, args: &[&str]) -> String {
    template(release, args).unwrap_or_else(|e| panic!("helm template {args:?} failed: {e}"))
}

/// The admin's kubectl, with `stdin` as input.
pub(crate) fn kubectl(args: &[&str], stdin: Option<&str>) -> Output {
    let stack = Stack::get();
    let mut cmd = Command::new(stack.var("KUBECTL"));
    cmd.arg("--kubeconfig")
        .arg(stack.var("ADMIN_KUBECONFIG"))
        .args(args);
    run(cmd, stdin)
}

/// Server-side apply as the admin; returns kubectl's stderr (warnings).
pub(crate) fn apply(yaml: &str) -> String {
    let out = kubectl(
        &[
            "apply",
            "--server-side",
            "--force-conflicts",
            "--field-manager",
            FIELD_MANAGER,
            "-f",
            "-",
        ],
        Some(yaml),
    );
    let warnings = stderr(&out);
    ok(out, "kubectl apply --server-side");
    warnings
}

/// The objects of a YAML stream as JSON, parsed by kubectl (client side), so
/// the YAML is read exactly the way `kubectl apply` reads it.
pub(crate) fn objects(yaml: &str) -> Vec<Value> {
    let json = ok(
        kubectl(
            &["create", "--dry-run=client", "-o", "json", "-f", "-"],
            Some(yaml),
        ),
        "kubectl create --dry-run=client",
    );
    serde_json::Deserializer::from_str(&json)
        .into_iter::<Value>()
        .map(|v| v.expect("kubectl prints JSON"))
        .collect()
}

pub(crate) fn names(objects: &[Value]) -> Vec<String> {
    objects
        .iter()
        .map(|o| {
            format!(
                "{}/{}",
                o["kind"].as_str().unwrap_or("?"),
                o["metadata"]["name"].as_str().unwrap_or("?")
            )
        })
        .collect()
}

pub(crate) fn find<'a>(objects: &'a [Value], kind: &str) -> &'a Value {
    let mut matching = objects.iter().filter(|o| o["kind"] == kind);
    let first = matching
        .next()
        .unwrap_or_else(|| panic!("no {kind} among {:?}", names(objects)));
    assert!(
        matching.next().is_none(),
        "more than one {kind} among {:?}",
        names(objects)
    );
    first
}

pub(crate) fn has_kind(objects: &[Value], kind: &str) -> bool {
    objects.iter().any(|o| o["kind"] == kind)
}

pub(crate) fn container(objects: &[Value]) -> &Value {
    &find(objects, "Deployment")["spec"]["template"]["spec"]["containers"][0]
}

pub(crate) fn env<'a>(container: &'a Value, name: &str) -> Option<&'a str> {
    container["env"]
        .as_array()?
        .iter()
        .find(|e| e["name"] == name)
        .and_then(|e| e["value"].as_str())
}

pub(crate) fn temp_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("strongroom-helm-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
