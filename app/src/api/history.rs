//! What changed when, per key, from the audit trail's fingerprints; the
//! age of a secret's values (issue 17, items 4 and 5).
