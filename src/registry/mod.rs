//! The registry (diarium): moderation under the comment rules, registration numbers allocated
//! gap-free per series and year, blocked identities.
pub mod api;
pub mod rules;
pub mod store;

pub use store::{NewRegistration, Numbering, register, register_many};
