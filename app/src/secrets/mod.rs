//! Everything about Secrets that browser and server share: the rules, the
//! typed builders, and the pages.

pub mod create_page;
pub mod detail_page;
pub mod list_page;
pub mod rules;
pub mod typed;
