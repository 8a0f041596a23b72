//! The archive: channels (the municipality's accounts), identities (people as platforms know them),
//! records (every post, comment, reply, reaction and message) with every version seen and a SHA-256
//! fixity hash per version.
pub mod api;
pub mod import;
pub mod rules;
pub mod store;

pub use api::visible_record;
