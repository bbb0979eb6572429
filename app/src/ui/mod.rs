//! Building blocks shared by all pages: layout, error panels, theme.

pub mod format;
pub mod layout;
