//! The env-file parser: never panics, and every key it accepts passes the
//! key rules on its own.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strongroom_app::secrets::rules;

fuzz_target!(|data: &[u8]| {
    if let Ok(entries) = rules::parse_env_file(data) {
        for (key, _) in &entries {
            assert!(rules::check_key(key).is_ok(), "accepted a bad key {key:?}");
        }
    }
});
