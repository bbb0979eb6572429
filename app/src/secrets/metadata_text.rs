//! Labels and annotations as people type them (`key=value`, one per line),
//! checked with the API server's rules; shared by the create and detail
//! pages.

use std::collections::BTreeMap;

use super::rules;

/// Labels as `key=value` lines.
pub fn parse_labels(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let (k, v) = line
            .split_once('=')
            .ok_or_else(|| format!("{line:?}: write key=value"))?;
        rules::check_qualified_name(k.trim()).map_err(|m| format!("label {k:?}: {m}"))?;
        rules::check_label_value(v.trim()).map_err(|m| format!("label {k:?}: {m}"))?;
        out.insert(k.trim().to_string(), v.trim().to_string());
    }
    Ok(out)
}

/// Annotations as `key=value` lines; values may contain `=` and spaces.
pub fn parse_annotations(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let (k, v) = line
            .split_once('=')
            .ok_or_else(|| format!("{line:?}: write key=value"))?;
        rules::check_qualified_name(k.trim()).map_err(|m| format!("annotation {k:?}: {m}"))?;
        out.insert(k.trim().to_string(), v.to_string());
    }
    Ok(out)
}
