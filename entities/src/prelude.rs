pub use super::api_token::Entity as ApiToken;
pub use super::audit_log::Entity as AuditLog;
pub use super::job::Entity as Job;
pub use super::outbox::Entity as Outbox;
