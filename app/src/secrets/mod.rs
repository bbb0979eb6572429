//! Everything about Secrets that browser and server share: the rules, the
//! typed builders, and the pages. Pages do not import each other: what two
//! pages share lives in its own module (`kind`, `metadata_text`, `export`).

pub mod cert_panel;
pub mod certs;
pub mod certs_page;
pub mod change_forms;
pub mod create_fields;
pub mod create_page;
pub mod detail_page;
pub mod export;
pub mod gitops;
pub mod key_history;
pub mod kind;
pub mod list_page;
pub mod metadata_text;
pub mod rules;
pub mod typed;
pub mod usage_panel;
