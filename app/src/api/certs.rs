//! Certificates held in secrets: public data only (issue 17, item 3).
