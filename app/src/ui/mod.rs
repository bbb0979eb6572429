//! Building blocks shared by all pages: layout, error panels, theme.

pub mod draft;
pub mod format;
pub mod layout;
pub mod toast;
