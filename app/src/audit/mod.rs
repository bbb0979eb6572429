//! Reading the audit trail: the auditors' page and a secret's access history.

pub mod pages;
