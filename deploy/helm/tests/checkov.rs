//! checkov (PyPI, the policy scanner many platform teams run on what they
//! deploy) over every configuration the render tests render: no check may
//! fail, and the only checks skipped are the ones listed in [`SKIPS`], each
//! skipped by a `checkov.io/skipN` annotation the chart renders and
//! justified in the chart's README ("Policy scanners").
//!
//! `scripts/test` installs checkov (`ensure_checkov` in `scripts/lib.sh`)
//! and sets `STRONGROOM_CHECKOV`. Runs offline: `--skip-download` leaves out
//! the guideline links checkov would fetch. Needs helm, not the stack. The
//! committed plain manifests (deploy/manifests) are checked as well.

use std::{collections::BTreeMap, process::Command};

use serde_json::Value;

use crate::{
    releases::{DIGEST, configurations},
    support::{must_template, repo, run, stderr, stdout, temp_dir},
};

/// Checks a configuration may skip (through the chart's own annotation),
/// and why; README.md, "Policy scanners", says the same.
const SKIPS: &[(&str, &str)] = &[(
    "CKV_K8S_43",
    "image by digest: the image is one the user builds and pushes, so the \
     chart cannot know its digest; with image.digest set the annotation is \
     not rendered and the check passes (configuration \"digest\")",
)];

#[derive(Default)]
struct Tally {
    passed: Vec<String>,
    failed: Vec<String>,
    skipped: Vec<String>,
}

#[test]
fn checkov_passes_every_rendered_configuration() {
    let checkov = std::env::var("STRONGROOM_CHECKOV").unwrap_or_else(|_| {
        panic!(
            "STRONGROOM_CHECKOV is not set: run the tests through scripts/test, or \
             `source scripts/lib.sh; ensure_checkov` first"
        )
    });
    let dir = temp_dir().join("checkov");
    let _ = std::fs::remove_dir_all(&dir);
    let mut configurations = configurations();
    for (name, args) in &configurations {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let yaml = must_template("checkov", &args);
        std::fs::create_dir_all(dir.join(name)).unwrap();
        std::fs::write(dir.join(name).join("rendered.yaml"), yaml).unwrap();
    }
    // ... and the plain manifests, as committed.
    std::fs::create_dir_all(dir.join("plain-manifests")).unwrap();
    std::fs::copy(
        repo().join("deploy/manifests/strongroom.yaml"),
        dir.join("plain-manifests/strongroom.yaml"),
    )
    .unwrap();
    configurations.push(("plain-manifests", vec![]));
    // One run over all of them (checkov starts slowly); results carry the
    // file they came from. JSON rather than --quiet --compact text, so the
    // passed checks can be counted too.
    let mut cmd = Command::new(&checkov);
    cmd.args(["--framework", "kubernetes", "--compact", "--skip-download"])
        .args(["-o", "json", "-d"])
        .arg(&dir);
    let out = run(cmd, None);
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap_or_else(|e| {
        panic!(
            "checkov printed no JSON report ({e}), exit {:?}:\n{}",
            out.status,
            stderr(&out)
        )
    });
    assert_eq!(
        report["results"]["parsing_errors"].as_array().map(Vec::len),
        Some(0),
        "checkov could not parse: {}",
        report["results"]["parsing_errors"]
    );
    let mut tallies: BTreeMap<String, Tally> = BTreeMap::new();
    for (kind, results) in [
        ("passed", "passed_checks"),
        ("failed", "failed_checks"),
        ("skipped", "skipped_checks"),
    ] {
        for r in report["results"][results].as_array().into_iter().flatten() {
            let file = r["file_path"].as_str().unwrap_or_default();
            let config = file.trim_start_matches('/').split('/').next().unwrap();
            let tally = tallies.entry(config.to_string()).or_default();
            let line = format!(
                "{} {} ({}){}",
                r["check_id"].as_str().unwrap_or("?"),
                r["resource"].as_str().unwrap_or("?"),
                r["check_name"].as_str().unwrap_or("?"),
                r["check_result"]["suppress_comment"]
                    .as_str()
                    .map(|c| format!(": {c}"))
                    .unwrap_or_default(),
            );
            match kind {
                "passed" => tally.passed.push(line),
                "failed" => tally.failed.push(line),
                _ => tally.skipped.push(line),
            }
        }
    }
    eprintln!("checkov {}:", report["summary"]["checkov_version"]);
    for (name, _) in &configurations {
        let t = tallies.get(*name);
        eprintln!(
            "  {name:24} passed {:3}, failed {}, skipped {}",
            t.map_or(0, |t| t.passed.len()),
            t.map_or(0, |t| t.failed.len()),
            t.map_or(0, |t| t.skipped.len()),
        );
    }
    let mut problems = Vec::new();
    for (name, _) in &configurations {
        let Some(t) = tallies.get(*name) else {
            problems.push(format!("{name}: checkov checked nothing"));
            continue;
        };
        if t.passed.is_empty() {
            problems.push(format!("{name}: no check passed"));
        }
        for f in &t.failed {
            problems.push(format!("{name}: FAILED {f}"));
        }
        for s in &t.skipped {
            if !SKIPS.iter().any(|(id, _)| s.starts_with(&format!("{id} "))) {
                problems.push(format!(
                    "{name}: skipped without a justification in SKIPS: {s}"
                ));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "checkov over the rendered chart:\n{}",
        problems.join("\n")
    );
    // With a digest nothing needs skipping: the skip is the digest's alone.
    let digest = &tallies["digest"];
    assert!(digest.skipped.is_empty(), "{:?}", digest.skipped);
    for id in ["CKV_K8S_43", "CKV_K8S_15"] {
        assert!(
            digest
                .passed
                .iter()
                .any(|p| p.starts_with(&format!("{id} "))),
            "{id} passes with image.digest={DIGEST}"
        );
    }
    // The fixes, not skips, for what checkov found before: a CPU limit, the
    // token mounted by the chart (automount off), pull policy Always for a tag.
    for id in ["CKV_K8S_11", "CKV_K8S_38", "CKV_K8S_15"] {
        assert!(
            tallies["defaults"]
                .passed
                .iter()
                .any(|p| p.starts_with(&format!("{id} "))),
            "{id} passes on the defaults"
        );
    }
}
