//! API tokens and roles: issuing, listing, revoking, and resolving a bearer token to a principal.
pub mod api;
pub mod rules;
pub mod store;

pub use rules::Role;
