//! The append-only, hash-chained audit log. Other capabilities call [`append`] inside their own
//! transaction, so an action and its audit entry commit or fail together.
pub mod api;
pub mod rules;
pub mod store;

pub use store::{Actor, NewEntry, append, append_many};

/// Now, truncated to microseconds: PostgreSQL keeps no more, and a hash over a time must
/// survive the round trip through either database.
pub fn now() -> chrono::DateTime<chrono::Utc> {
    use chrono::SubsecRound;
    chrono::Utc::now().trunc_subsecs(6)
}
