pub use super::api_token::Entity as ApiToken;
pub use super::audit_log::Entity as AuditLog;
pub use super::channel::Entity as Channel;
pub use super::identity::Entity as Identity;
pub use super::job::Entity as Job;
pub use super::outbox::Entity as Outbox;
pub use super::record::Entity as Record;
pub use super::record_version::Entity as RecordVersion;
