//! The audit chain verifier: any sequence of records (as JSON) is judged
//! without a panic, and a chain linked by `keyed_chain_hash` always verifies.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strongroom_server::domain::audit::{
    AuditRecord, ChainKey, GENESIS_HASH, keyed_chain_hash, verify_chain,
};

fuzz_target!(|data: &[u8]| {
    let Ok(records) = serde_json::from_slice::<Vec<AuditRecord>>(data) else {
        return;
    };
    let key = ChainKey::new(b"fuzz".to_vec());
    let _ = verify_chain(records.iter(), GENESIS_HASH.to_string(), 1, &key, 0);
    // Relinked properly, the same events form a valid chain.
    let mut prev = GENESIS_HASH.to_string();
    let relinked: Vec<AuditRecord> = records
        .into_iter()
        .enumerate()
        .map(|(i, mut r)| {
            r.seq = i as i64 + 1;
            r.prev_hash = prev.clone();
            r.stored = serde_json::to_string(&r.event).unwrap();
            r.hash = keyed_chain_hash(&key, &prev, r.seq, &r.stored);
            prev = r.hash.clone();
            r
        })
        .collect();
    assert!(verify_chain(relinked.iter(), GENESIS_HASH.to_string(), 1, &key, 0).is_ok());
});
