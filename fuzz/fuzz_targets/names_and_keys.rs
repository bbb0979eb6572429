//! Name, key and label rules: never panic, and what they accept keeps the
//! limits Kubernetes enforces.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strongroom_app::secrets::rules;

fuzz_target!(|s: &str| {
    if rules::check_name(s).is_ok() {
        assert!(!s.is_empty() && s.len() <= 253, "{s:?}");
        assert!(s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.'));
    }
    if rules::check_key(s).is_ok() {
        assert!(!s.is_empty() && s.len() <= 253 && s != "." && s != "..", "{s:?}");
        assert!(s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')));
    }
    let _ = rules::check_qualified_name(s);
    if rules::check_label_value(s).is_ok() {
        assert!(s.len() <= 63, "{s:?}");
    }
});
