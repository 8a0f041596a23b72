//! Cross-cutting HTTP: the problem+json error, bearer-token auth, request ids and logging.
pub mod auth;
pub mod body_limit;
pub mod health;
pub mod json_body;
pub mod metrics;
pub mod problem;
pub mod request_id;

pub use auth::{Principal, TokenAuth};
pub use json_body::JsonBody;
pub use problem::{ApiError, AppError, FieldError, Problem};
