//! Mail to citizens and officers: rendered from templates (Swedish and English, plain text and
//! HTML), written to the outbox in the caller's transaction, and sent by the `mail.send` job.
pub mod api;
pub mod rules;
pub mod sender;
pub mod store;

pub use rules::{Language, Rendered};
