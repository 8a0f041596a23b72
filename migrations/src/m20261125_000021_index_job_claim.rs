use crate::m20261124_000004_create_job::Job;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// A runner claims only the kinds it has a handler for. With the kind in the index the claim is
/// a range scan per kind; without it, every queued job of another kind (mail waiting for an SMTP
/// server this instance lacks, say) was read on every poll, holding SQLite's one connection.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name("idx_job_claim")
                    .table(Job::Table)
                    .col(Job::Status)
                    .col(Job::Kind)
                    .col(Job::RunAt)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("idx_job_due")
                    .table(Job::Table)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name("idx_job_due")
                    .table(Job::Table)
                    .col(Job::Status)
                    .col(Job::RunAt)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("idx_job_claim")
                    .table(Job::Table)
                    .to_owned(),
            )
            .await
    }
}
