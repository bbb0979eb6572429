//! The layers of `server/src` import one way only (docs/ARCHITECTURE.md,
//! "Layers"): `web` (the edge) → `domain` → `infra`, with `app` (the
//! composition root) above them all. This test reads the sources and fails
//! on an import against that direction, so the shape cannot drift silently.
//! It runs without the local stack.

use std::path::{Path, PathBuf};

fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(sources(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out.sort();
    out
}

fn src() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// The code of a file without its comments, so prose about other layers
/// does not count as an import.
fn code(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `text` without whitespace, so `k. secrets (` reads as `k.secrets(`.
fn squeezed(text: &str) -> String {
    text.chars().filter(|c| !c.is_whitespace()).collect()
}

/// The crate-level modules a file reaches: the first segment after
/// `crate::` in paths and `use` trees (grouped imports included), and
/// `super::super` (which climbs out of a layer).
fn crate_modules(code: &str) -> Vec<String> {
    let code = squeezed(code);
    let mut found = Vec::new();
    for (i, _) in code.match_indices("crate::") {
        let rest = &code[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // Top-level items of the group: depth-1 commas.
            let mut depth = 0;
            let mut item = String::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        found.push(first_segment(&item));
                        item.clear();
                        continue;
                    }
                    _ => {}
                }
                item.push(c);
            }
            found.push(first_segment(&item));
        } else {
            found.push(first_segment(rest));
        }
    }
    if code.contains("super::super") {
        found.push("super::super".into());
    }
    found.retain(|m| !m.is_empty());
    found
}

fn first_segment(path: &str) -> String {
    path.split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .next()
        .unwrap_or_default()
        .to_string()
}

/// Every file in `layer` that reaches one of `modules` (crate-level) or
/// contains one of `words`, with what it used.
fn violations(layer: &str, modules: &[&str], words: &[&str]) -> Vec<String> {
    let dir = src().join(layer);
    assert!(dir.is_dir(), "server/src/{layer} exists");
    let mut found = Vec::new();
    for file in sources(&dir) {
        let text = code(&file);
        let name = file.strip_prefix(src()).unwrap().display().to_string();
        for m in crate_modules(&text) {
            if modules.contains(&m.as_str()) || m == "super::super" {
                found.push(format!("{name}: crate::{m}"));
            }
        }
        let flat = squeezed(&text);
        for w in words {
            if flat.contains(&squeezed(w)) {
                found.push(format!("{name}: {w}"));
            }
        }
    }
    found
}

#[test]
fn the_domain_knows_neither_the_edge_nor_axum_nor_the_raw_configuration() {
    let found = violations("domain", &["web", "app", "config"], &["axum", "AppState"]);
    assert!(
        found.is_empty(),
        "the domain imports upward:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_infrastructure_knows_neither_the_domain_nor_the_edge() {
    let found = violations(
        "infra",
        &["web", "domain", "app", "config"],
        &["axum", "AppState"],
    );
    assert!(
        found.is_empty(),
        "infra imports upward:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_edge_reaches_secrets_only_through_domain_operations() {
    // Handlers call one domain operation; the Kubernetes verbs that carry
    // values, and raw requests, stay below the edge.
    let found = violations(
        "web",
        &[],
        &[
            ".secrets(",
            "::secrets(",
            ".call(",
            ".call_raw(",
            "SecretsApi",
            "kube::core::Request",
            ".record(",
            "Audited::new(",
        ],
    );
    assert!(
        found.is_empty(),
        "the edge bypasses the domain:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_layers_are_the_folders_the_architecture_names() {
    for layer in ["web", "domain", "infra"] {
        assert!(src().join(layer).join("mod.rs").is_file(), "{layer}/mod.rs");
    }
    for domain in ["secrets", "audit", "auth"] {
        assert!(
            src().join("domain").join(domain).is_dir(),
            "domain/{domain}"
        );
    }
    // No module shadows a crate it uses.
    for shadow in ["kube", "http", "kube.rs", "http.rs"] {
        assert!(
            !src().join(shadow).exists(),
            "server/src/{shadow} shadows a crate"
        );
    }
}

#[test]
fn the_layering_check_sees_an_upward_import() {
    // The check itself must be able to fail: a line in the domain that
    // names the edge is found, a comment that does is not.
    let dir = std::env::temp_dir().join(format!("strongroom-layers-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("x.rs");
    std::fs::write(&file, "// crate::web in prose\nuse crate::web::AppError;\n").unwrap();
    let text = code(&file);
    assert!(!text.lines().next().unwrap().contains("crate::web"));
    assert!(text.lines().nth(1).unwrap().contains("crate::web"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn grouped_and_relative_imports_are_seen_too() {
    let seen = |code: &str| crate_modules(code);
    assert_eq!(seen("use crate::{web::AppError, x};"), ["web", "x"]);
    assert_eq!(
        seen("use crate::{\n    infra::{a, b},\n    web,\n};"),
        ["infra", "web"]
    );
    assert_eq!(seen("let e = crate::web::AppError::x;"), ["web"]);
    assert_eq!(seen("use super::super::web;"), ["super::super"]);
    assert!(seen("use kube::config::Kubeconfig; let webhook = 1;").is_empty());
}
