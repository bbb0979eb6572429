//! Who uses a secret, and restarting them after its values change
//! (issue 17, items 1 and 2).
