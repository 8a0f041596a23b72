use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Identity::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Identity::Id))
                    .col(string(Identity::Platform))
                    .col(string(Identity::PlatformId))
                    .col(string_null(Identity::DisplayName))
                    .col(string_null(Identity::ProfileLink))
                    .col(timestamp_with_time_zone(Identity::FirstSeen))
                    .col(timestamp_with_time_zone(Identity::LastSeen))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_identity_platform_id")
                    .table(Identity::Table)
                    .col(Identity::Platform)
                    .col(Identity::PlatformId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_identity_display_name")
                    .table(Identity::Table)
                    .col(Identity::DisplayName)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Identity::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
pub enum Identity {
    Table,
    Id,
    Platform,
    PlatformId,
    DisplayName,
    ProfileLink,
    FirstSeen,
    LastSeen,
}
