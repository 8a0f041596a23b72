//! Schema migrations, one file each; a landed migration is never edited.
pub use sea_orm_migration::prelude::*;

mod m20261124_000001_create_api_token;
mod m20261124_000002_create_audit_log;
mod m20261124_000003_create_outbox;
mod m20261124_000004_create_job;
mod m20261124_000005_create_channel;
mod m20261124_000006_create_identity;
mod m20261124_000007_create_record;
mod m20261124_000008_create_record_version;
mod m20261124_000009_create_consent_event;
mod m20261124_000010_create_unpublish_task;
mod m20261124_000011_create_registration;
mod m20261124_000012_create_moderation;
mod m20261124_000013_add_record_classified;
mod m20261124_000014_create_disposal_decision;
mod m20261124_000015_create_legal_hold;
mod m20261124_000016_index_record_author_id;
mod m20261124_000017_create_request;
mod m20261124_000018_create_package;
mod m20261124_000019_restriction_and_notes;
mod m20261124_000020_create_erasure;
mod m20261125_000021_index_job_claim;
mod m20261125_000022_create_officer_session;
mod m20261125_000023_index_identity_linked;
mod m20261125_000024_index_identity_name;
mod m20261125_000025_seal_mail_secrets;
mod m20261125_000026_index_request_phrase;
mod m20261125_000027_record_recipient;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261124_000001_create_api_token::Migration),
            Box::new(m20261124_000002_create_audit_log::Migration),
            Box::new(m20261124_000003_create_outbox::Migration),
            Box::new(m20261124_000004_create_job::Migration),
            Box::new(m20261124_000005_create_channel::Migration),
            Box::new(m20261124_000006_create_identity::Migration),
            Box::new(m20261124_000007_create_record::Migration),
            Box::new(m20261124_000008_create_record_version::Migration),
            Box::new(m20261124_000009_create_consent_event::Migration),
            Box::new(m20261124_000010_create_unpublish_task::Migration),
            Box::new(m20261124_000011_create_registration::Migration),
            Box::new(m20261124_000012_create_moderation::Migration),
            Box::new(m20261124_000013_add_record_classified::Migration),
            Box::new(m20261124_000014_create_disposal_decision::Migration),
            Box::new(m20261124_000015_create_legal_hold::Migration),
            Box::new(m20261124_000016_index_record_author_id::Migration),
            Box::new(m20261124_000017_create_request::Migration),
            Box::new(m20261124_000018_create_package::Migration),
            Box::new(m20261124_000019_restriction_and_notes::Migration),
            Box::new(m20261124_000020_create_erasure::Migration),
            Box::new(m20261125_000021_index_job_claim::Migration),
            Box::new(m20261125_000022_create_officer_session::Migration),
            Box::new(m20261125_000023_index_identity_linked::Migration),
            Box::new(m20261125_000024_index_identity_name::Migration),
            Box::new(m20261125_000025_seal_mail_secrets::Migration),
            Box::new(m20261125_000026_index_request_phrase::Migration),
            Box::new(m20261125_000027_record_recipient::Migration),
        ]
    }
}
