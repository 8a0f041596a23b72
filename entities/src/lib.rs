//! SeaORM entities, one file per table, in the shape `sea-orm-cli generate entity` writes.
pub mod api_token;
pub mod audit_log;
pub mod channel;
pub mod consent_event;
pub mod disposal_decision;
pub mod identity;
pub mod identity_block;
pub mod job;
pub mod legal_hold;
pub mod moderation;
pub mod outbox;
pub mod prelude;
pub mod record;
pub mod record_version;
pub mod registration;
pub mod registration_counter;
pub mod unpublish_task;
