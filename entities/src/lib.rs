//! SeaORM entities, one file per table, in the shape `sea-orm-cli generate entity` writes.
pub mod api_token;
pub mod audit_log;
pub mod channel;
pub mod identity;
pub mod job;
pub mod outbox;
pub mod prelude;
pub mod record;
pub mod record_version;
