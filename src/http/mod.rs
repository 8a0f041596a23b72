//! Cross-cutting HTTP: the problem+json error, bearer-token auth, request ids and logging.
pub mod allow;
pub mod auth;
pub mod body_limit;
pub mod health;
pub mod json_body;
pub mod metrics;
pub mod problem;
pub mod rate_limit;
pub mod request_id;

pub use auth::{Principal, TokenAuth};
pub use json_body::JsonBody;
pub use problem::{ApiError, AppError, FieldError, Problem};

/// The `after` cursor for the next page of an id-ordered listing: the last id when the page is
/// full, none on the last page.
pub fn next_after<T>(rows: &[T], limit: u64, id: impl Fn(&T) -> i64) -> Option<i64> {
    if rows.len() as u64 == limit {
        rows.last().map(id)
    } else {
        None
    }
}
