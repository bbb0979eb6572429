//! Building blocks shared by all pages: layout, error panels, theme.

pub mod clipboard;
pub mod draft;
pub mod format;
pub mod layout;
pub mod section;
pub mod toast;
