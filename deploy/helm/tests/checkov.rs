//! checkov (PyPI, the policy scanner many platform teams run on what they
//! deploy) over every configuration the render tests render: no check may
//! fail, and the chart renders no suppression of its own (no
//! `checkov.io/skip` annotation), so a platform team's scan of its render
//! reports what there is to report.
//!
//! One check is skipped, on checkov's command line and only here:
//! [`SKIP_WITHOUT_DIGEST`], for the configurations that run the image by tag
//! (without `image.digest`); the chart's README ("Policy scanners") says
//! why, and that users see the finding until they set a digest. The
//! configurations with a digest are scanned with nothing skipped, and the
//! plain manifests are scanned once more without the skip to show that
//! finding is the only one a user's scan reports.
//!
//! `scripts/test` installs checkov (`ensure_checkov` in `scripts/lib.sh`)
//! and sets `STRONGROOM_CHECKOV`. Runs offline: `--skip-download` leaves out
//! the guideline links checkov would fetch. Needs helm, not the stack. The
//! committed plain manifests (deploy/manifests) are checked as well.

use std::{collections::BTreeMap, path::Path, process::Command};

use serde_json::Value;

use crate::{
    releases::{DIGEST, configurations},
    support::{must_template, repo, run, stderr, stdout, temp_dir},
};

/// The check skipped (`--skip-check`) for configurations without an image
/// digest, and why; README.md, "Policy scanners", says the same.
const SKIP_WITHOUT_DIGEST: (&str, &str) = (
    "CKV_K8S_43",
    "image by digest: the image is one the user builds and pushes, so the \
     chart cannot default to its digest; with image.digest set the check \
     passes (configuration \"digest\", scanned with nothing skipped)",
);

/// The plain manifests scanned as a user would, without the skip.
const AS_USERS_SEE_IT: &str = "plain-manifests-unskipped";

#[derive(Default)]
struct Tally {
    passed: Vec<String>,
    failed: Vec<String>,
    skipped: Vec<String>,
}

/// Whether a rendered configuration runs its image by digest.
fn pinned(yaml: &str) -> bool {
    yaml.lines()
        .any(|l| l.trim_start().starts_with("image: ") && l.contains("@sha256:"))
}

/// One checkov run over `dir` (a folder per configuration), skipping
/// `skip`; adds each configuration's results to `tallies`.
fn scan(checkov: &str, dir: &Path, skip: Option<&str>, tallies: &mut BTreeMap<String, Tally>) {
    // One run over all of them (checkov starts slowly); results carry the
    // file they came from. JSON rather than --quiet --compact text, so the
    // passed checks can be counted too.
    let mut cmd = Command::new(checkov);
    cmd.args(["--framework", "kubernetes", "--compact", "--skip-download"]);
    if let Some(id) = skip {
        cmd.args(["--skip-check", id]);
    }
    cmd.args(["-o", "json", "-d"]).arg(dir);
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
    eprintln!(
        "checkov {} over {}{}",
        report["summary"]["checkov_version"],
        dir.display(),
        skip.map(|id| format!(" --skip-check {id}"))
            .unwrap_or_default()
    );
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
}

fn has(lines: &[String], id: &str) -> bool {
    lines.iter().any(|l| l.starts_with(&format!("{id} ")))
}

#[test]
fn checkov_passes_every_rendered_configuration() {
    let checkov = std::env::var("STRONGROOM_CHECKOV").unwrap_or_else(|_| {
        panic!(
            "STRONGROOM_CHECKOV is not set: run the tests through scripts/test, or \
             `source scripts/lib.sh; ensure_checkov` first"
        )
    });
    let (skip_id, why) = SKIP_WITHOUT_DIGEST;
    let dir = temp_dir().join("checkov");
    let _ = std::fs::remove_dir_all(&dir);
    // By tag (scanned with the skip) and by digest (with nothing skipped).
    let by_tag = dir.join("tag");
    let by_digest = dir.join("digest");
    let write = |base: &Path, name: &str, file: &str, yaml: &str| {
        std::fs::create_dir_all(base.join(name)).unwrap();
        std::fs::write(base.join(name).join(file), yaml).unwrap();
    };
    // (configuration, pinned by digest)
    let mut scanned: Vec<(String, bool)> = Vec::new();
    for (name, args) in configurations() {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let yaml = must_template("checkov", &args);
        let digest = pinned(&yaml);
        write(
            if digest { &by_digest } else { &by_tag },
            name,
            "rendered.yaml",
            &yaml,
        );
        scanned.push((name.to_string(), digest));
    }
    // ... and the plain manifests, as committed: with the skip like every
    // configuration by tag, and once more as a user's scan sees them.
    let plain = std::fs::read_to_string(repo().join("deploy/manifests/strongroom.yaml")).unwrap();
    assert!(!pinned(&plain), "the plain manifests run the image by tag");
    write(&by_tag, "plain-manifests", "strongroom.yaml", &plain);
    scanned.push(("plain-manifests".into(), false));
    write(&by_digest, AS_USERS_SEE_IT, "strongroom.yaml", &plain);
    assert!(
        scanned.iter().any(|(_, digest)| *digest),
        "some configuration runs the image by digest"
    );

    let mut tag_tallies = BTreeMap::new();
    scan(&checkov, &by_tag, Some(skip_id), &mut tag_tallies);
    let mut digest_tallies = BTreeMap::new();
    scan(&checkov, &by_digest, None, &mut digest_tallies);
    eprintln!("skipped for the configurations by tag: {skip_id}, {why}");
    let empty = Tally::default();
    let tally = |name: &str, digest: bool| {
        let tallies = if digest {
            &digest_tallies
        } else {
            &tag_tallies
        };
        tallies.get(name)
    };
    for (name, digest) in scanned
        .iter()
        .map(|(n, d)| (n.as_str(), *d))
        .chain([(AS_USERS_SEE_IT, true)])
    {
        let t = tally(name, digest).unwrap_or(&empty);
        eprintln!(
            "  {name:26} passed {:3}, failed {}, skipped {}{}",
            t.passed.len(),
            t.failed.len(),
            t.skipped.len(),
            if digest {
                String::new()
            } else {
                format!(" (--skip-check {skip_id})")
            }
        );
    }

    let mut problems = Vec::new();
    for (name, digest) in &scanned {
        let Some(t) = tally(name, *digest) else {
            problems.push(format!("{name}: checkov checked nothing"));
            continue;
        };
        if t.passed.is_empty() {
            problems.push(format!("{name}: no check passed"));
        }
        for f in &t.failed {
            problems.push(format!("{name}: FAILED {f}"));
        }
        // The chart suppresses nothing itself: whatever checkov skips
        // without being told to on its command line, the user's scan would
        // skip too.
        for s in &t.skipped {
            problems.push(format!("{name}: suppressed in the manifests: {s}"));
        }
    }
    assert!(
        problems.is_empty(),
        "checkov over the rendered chart:\n{}",
        problems.join("\n")
    );
    // With a digest nothing is skipped, and the check passes.
    let digest = tally("digest", true).expect("the configuration \"digest\" is pinned");
    for id in [skip_id, "CKV_K8S_15"] {
        assert!(
            has(&digest.passed, id),
            "{id} passes with image.digest={DIGEST}"
        );
    }
    // A user scanning the plain manifests (by tag) is told about the tag:
    // that one finding, on the Deployment, and nothing else.
    let seen = tally(AS_USERS_SEE_IT, true).expect("the plain manifests were scanned");
    assert!(seen.skipped.is_empty(), "{:?}", seen.skipped);
    assert_eq!(
        seen.failed.len(),
        1,
        "only {skip_id} fails on the plain manifests: {:?}",
        seen.failed
    );
    assert!(
        seen.failed[0].starts_with(&format!("{skip_id} Deployment.")),
        "{:?}",
        seen.failed
    );
    // The fixes, not skips, for what checkov found before: a CPU limit, the
    // token mounted by the chart (automount off), pull policy Always for a tag.
    let defaults = tally("defaults", false).expect("the defaults were scanned");
    for id in ["CKV_K8S_11", "CKV_K8S_38", "CKV_K8S_15"] {
        assert!(has(&defaults.passed, id), "{id} passes on the defaults");
    }
}
