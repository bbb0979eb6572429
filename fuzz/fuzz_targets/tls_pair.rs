//! Certificate/key pair checking: any bytes, split at the first NUL into a
//! "certificate" and a "key", give an answer, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strongroom_server::domain::secrets::tls::check_pair;

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|b| *b == 0).unwrap_or(data.len());
    let (cert, key) = data.split_at(split);
    let _ = check_pair(cert, key.get(1..).unwrap_or_default());
});
