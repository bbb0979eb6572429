//! Certificates held in secrets (issue 17, item 3): public data only.
//!
//! - [`parse`] reads PEM certificates out of values (pure functions).
//! - [`inspect`] shows one secret's certificates, as the user (a GET of the
//!   secret), after the inspection's audit record is committed.
//! - [`scan`] lists a namespace's expired and expiring certificates for a
//!   user who may `get` its secrets, cached briefly per user and namespace.
//!
//! Values are read on the server and never sent on: answers carry
//! subjects, names, dates and fingerprints, never a value or a private key.

pub mod inspect;
pub mod parse;
pub mod scan;

/// The widest warning window a request may ask for, in days (ten years).
pub const MAX_WITHIN_DAYS: u32 = 3650;
