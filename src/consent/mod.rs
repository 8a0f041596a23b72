//! The interaction-consent ledger: every reaction, comment, reply and message of a member of the
//! public is consent to appear on the channel (the municipality's policy); withdrawing it opens
//! unpublish tasks for the social-media team and never touches the archive.
pub mod api;
pub mod rules;
pub mod store;

pub use store::{Archived, forget_closed_tasks_of, open_task, record_given, withdraw_in};
