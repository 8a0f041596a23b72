use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Job::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Job::Id))
                    .col(string(Job::Kind))
                    .col(text(Job::Payload))
                    .col(string(Job::Status))
                    .col(integer(Job::Attempts))
                    .col(timestamp_with_time_zone(Job::RunAt))
                    .col(string_null(Job::LockedBy))
                    .col(timestamp_with_time_zone_null(Job::LockedUntil))
                    .col(text_null(Job::LastError))
                    .col(timestamp_with_time_zone(Job::CreatedAt))
                    .col(timestamp_with_time_zone_null(Job::FinishedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_job_due")
                    .table(Job::Table)
                    .col(Job::Status)
                    .col(Job::RunAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Job::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
pub enum Job {
    Table,
    Id,
    Kind,
    Payload,
    Status,
    Attempts,
    RunAt,
    LockedBy,
    LockedUntil,
    LastError,
    CreatedAt,
    FinishedAt,
}
