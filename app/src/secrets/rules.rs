//! The rules a Secret must follow, the same as the API server's, checked in
//! the browser (errors next to the field) and again on the server.

use std::collections::BTreeMap;

/// The API server's limit on the total size of a Secret's values.
pub const MAX_SECRET_BYTES: usize = 1024 * 1024;
/// The longest key or name Kubernetes accepts.
pub const MAX_NAME_LEN: usize = 253;

/// A broken rule, with the field it concerns.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct RuleError {
    pub field: String,
    pub message: String,
}

fn err(field: &str, message: impl Into<String>) -> RuleError {
    RuleError {
        field: field.to_string(),
        message: message.into(),
    }
}

/// A data key: `[-._a-zA-Z0-9]+`, at most 253 characters, not `.` or `..`
/// (the API server's `IsConfigMapKey`).
pub fn check_key(key: &str) -> Result<(), String> {
    if key.is_empty() {
        return Err("a key must not be empty".into());
    }
    if key.len() > MAX_NAME_LEN {
        return Err(format!("a key must be at most {MAX_NAME_LEN} characters"));
    }
    if key == "." || key == ".." {
        return Err(format!("{key:?} is not allowed as a key"));
    }
    if let Some(bad) = key
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        return Err(format!(
            "{bad:?} is not allowed in a key: use letters, digits, '-', '_' or '.'"
        ));
    }
    Ok(())
}

/// A resource name: a DNS subdomain (RFC 1123) of at most 253 characters:
/// lowercase letters, digits, '-' and '.', starting and ending with a letter
/// or digit.
pub fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("a name is required".into());
    }
    if name.len() > MAX_NAME_LEN {
        return Err(format!("a name must be at most {MAX_NAME_LEN} characters"));
    }
    for label in name.split('.') {
        let ok = !label.is_empty()
            && label
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !label.starts_with('-')
            && !label.ends_with('-');
        if !ok {
            return Err("use lowercase letters, digits, '-' and '.', starting and ending with a letter or digit".into());
        }
    }
    Ok(())
}

/// A label or annotation key: an optional DNS-subdomain prefix and `/`, then
/// a name of at most 63 characters (`[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?`).
pub fn check_qualified_name(key: &str) -> Result<(), String> {
    let (prefix, name) = match key.rsplit_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    if let Some(p) = prefix {
        check_name(p).map_err(|e| format!("prefix: {e}"))?;
    }
    let ok = !name.is_empty()
        && name.len() <= 63
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err("use at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit".into())
    }
}

/// A label value: empty, or at most 63 characters of the same alphabet.
pub fn check_label_value(value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Ok(());
    }
    // Not check_qualified_name: a value has no `prefix/` part (found by
    // fuzzing: "a/b" passed as a value).
    let ok = value.len() <= 63
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && value.starts_with(|c: char| c.is_ascii_alphanumeric())
        && value.ends_with(|c: char| c.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err("a label value must be at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit".into())
    }
}

/// Checks a whole set of data: every key, no duplicates (when given as a
/// list), and the total size.
pub fn check_data(entries: &[(String, Vec<u8>)]) -> Result<BTreeMap<String, Vec<u8>>, RuleError> {
    let mut data = BTreeMap::new();
    let mut total = 0usize;
    for (i, (key, value)) in entries.iter().enumerate() {
        let field = format!("data.{i}.key");
        check_key(key).map_err(|m| err(&field, m))?;
        if data.insert(key.clone(), value.clone()).is_some() {
            return Err(err(&field, format!("the key {key:?} is given twice")));
        }
        total += value.len();
    }
    if total > MAX_SECRET_BYTES {
        return Err(err(
            "data",
            format!(
                "the values add up to {total} bytes; a Secret holds at most {MAX_SECRET_BYTES} bytes (1 MiB)"
            ),
        ));
    }
    Ok(data)
}

/// Parses an env file the way `kubectl create secret --from-env-file` does:
/// one `KEY=VALUE` per line, leading white space ignored, blank lines and
/// lines starting with `#` skipped, a UTF-8 byte order mark on the first
/// line dropped, the value taken verbatim (no quotes, no trimming of trailing
/// spaces) up to the end of the line (a trailing `\r` removed), keys must be
/// environment variable names, a key given twice is an error.
pub fn parse_env_file(text: &[u8]) -> Result<Vec<(String, Vec<u8>)>, RuleError> {
    let text = std::str::from_utf8(text).map_err(|e| {
        err(
            "envFile",
            format!(
                "the env file is not UTF-8 text (at byte {})",
                e.valid_up_to()
            ),
        )
    })?;
    let mut out: Vec<(String, Vec<u8>)> = Vec::new();
    for (n, raw) in text.split('\n').enumerate() {
        let line_no = n + 1;
        let mut line = raw.strip_suffix('\r').unwrap_or(raw);
        if n == 0 {
            line = line.strip_prefix('\u{feff}').unwrap_or(line);
        }
        let line = line.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            return Err(err(
                "envFile",
                // The line is not repeated: it may be part of a pasted key.
                format!(
                    "line {line_no}: there is no '='; write KEY=VALUE (kubectl would read a bare KEY from its own environment)"
                ),
            ));
        };
        if !is_env_var_name(key) {
            return Err(err(
                "envFile",
                format!(
                    "line {line_no}: the part before '=' is not a valid key: use letters, digits, '-', '_' or '.', not starting with a digit"
                ),
            ));
        }
        // An environment variable name may still be no valid data key
        // (`.`, `..`, longer than 253): kubectl would pass it on and the API
        // server refuse the whole secret. Found by fuzzing.
        if check_key(key).is_err() {
            return Err(err(
                "envFile",
                format!(
                    "line {line_no}: the part before '=' cannot be a data key (not '.' or '..', at most 253 characters)"
                ),
            ));
        }
        if out.iter().any(|(k, _)| k == key) {
            return Err(err(
                "envFile",
                format!("line {line_no}: its key is given twice (first on another line)"),
            ));
        }
        out.push((key.to_string(), value.as_bytes().to_vec()));
    }
    Ok(out)
}

/// `IsEnvVarName`: `[-._a-zA-Z][-._a-zA-Z0-9]*`.
fn is_env_var_name(key: &str) -> bool {
    let mut chars = key.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || matches!(c, '-' | '_' | '.'))
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

#[cfg(test)]
mod tests {

    #[test]
    fn label_values_have_no_prefix_and_at_most_63_characters() {
        assert!(check_label_value("example.com/x").is_err());
        assert!(check_label_value(&format!("{}/ab", "a".repeat(70))).is_err());
        assert!(check_label_value(&"a".repeat(64)).is_err());
        assert!(check_label_value(&"a".repeat(63)).is_ok());
        assert!(check_label_value("v1.2_beta-3").is_ok());
        assert!(check_label_value("").is_ok());
    }

    #[test]
    fn env_file_keys_that_are_no_data_keys_are_refused() {
        for text in [".=x", "..=x", &format!("{}=x", "k".repeat(254))] {
            let e = parse_env_file(text.as_bytes()).unwrap_err();
            assert_eq!(e.field, "envFile", "{text}");
            assert!(e.message.starts_with("line 1:"), "{}", e.message);
        }
        assert!(parse_env_file(b".env=x").is_ok());
    }
    use super::*;

    #[test]
    fn valid_keys_pass() {
        for k in [
            "a",
            "AWS_ACCESS_KEY_ID",
            "tls.crt",
            ".dockerconfigjson",
            "a-b_c.d",
            &"x".repeat(253),
        ] {
            assert_eq!(check_key(k), Ok(()), "{k}");
        }
    }

    #[test]
    fn invalid_keys_are_refused() {
        for k in ["", ".", "..", "a/b", "a b", "ключ", &"x".repeat(254), "a:b"] {
            assert!(check_key(k).is_err(), "{k:?}");
        }
    }

    #[test]
    fn names_must_be_dns_subdomains() {
        for ok in ["a", "db-creds", "a.b.c", "x1"] {
            assert_eq!(check_name(ok), Ok(()), "{ok}");
        }
        for bad in ["", "A", "-a", "a-", "a..b", "a_b", ".a", &"a".repeat(254)] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn qualified_names_and_label_values() {
        assert!(check_qualified_name("app.kubernetes.io/name").is_ok());
        assert!(check_qualified_name("team").is_ok());
        assert!(check_qualified_name("Bad/x").is_err());
        assert!(check_qualified_name(&"a".repeat(64)).is_err());
        assert!(check_label_value("").is_ok());
        assert!(check_label_value("v1.2").is_ok());
        assert!(check_label_value("no spaces").is_err());
    }

    #[test]
    fn duplicate_keys_are_refused() {
        let e =
            check_data(&[("a".into(), b"1".to_vec()), ("a".into(), b"2".to_vec())]).unwrap_err();
        assert_eq!(e.field, "data.1.key");
    }

    #[test]
    fn one_mebibyte_fits_and_one_byte_more_does_not() {
        let just = vec![0u8; MAX_SECRET_BYTES];
        assert!(check_data(&[("k".into(), just)]).is_ok());
        let over = vec![0u8; MAX_SECRET_BYTES / 2 + 1];
        let e = check_data(&[("a".into(), over.clone()), ("b".into(), over)]).unwrap_err();
        assert_eq!(e.field, "data");
    }

    #[test]
    fn env_files_follow_kubectl() {
        let text = "\u{feff}# comment\n\n  FOO=bar\nEMPTY=\nSPACES=  a b  \r\nEQ=a=b\n#x=y\n";
        let parsed = parse_env_file(text.as_bytes()).unwrap();
        let expect: Vec<(String, Vec<u8>)> = vec![
            ("FOO".into(), b"bar".to_vec()),
            ("EMPTY".into(), b"".to_vec()),
            ("SPACES".into(), b"  a b  ".to_vec()),
            ("EQ".into(), b"a=b".to_vec()),
        ];
        assert_eq!(parsed, expect);
    }

    #[test]
    fn env_file_errors_name_the_line() {
        assert!(
            parse_env_file(b"A=1\nNOVALUE\n")
                .unwrap_err()
                .message
                .starts_with("line 2:")
        );
        assert!(
            parse_env_file(b"1A=x")
                .unwrap_err()
                .message
                .contains("not a valid key")
        );
        assert!(
            parse_env_file(b"A=1\nA=2")
                .unwrap_err()
                .message
                .contains("twice")
        );
        assert!(parse_env_file(b"A=\xff").is_err());
    }

    #[test]
    fn env_file_errors_never_repeat_the_line() {
        // A PEM body pasted by mistake: its lines must not come back in the
        // error (it reaches logs, toasts and screen readers).
        for text in [
            &b"A=1\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC\n"[..],
            b"MIIEvQIBADAN=1\nMIIEvQIBADAN=2",
            b"MIIEvQIBADAN/x+=1",
        ] {
            let e = parse_env_file(text).unwrap_err();
            assert!(!e.message.contains("MIIEvQIBADAN"), "{}", e.message);
            assert!(e.message.starts_with("line "), "{}", e.message);
        }
    }
}
