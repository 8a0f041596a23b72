use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Channel::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Channel::Id))
                    .col(string(Channel::Platform))
                    .col(string(Channel::AccountId))
                    .col(string(Channel::Name))
                    .col(string_null(Channel::Department))
                    .col(timestamp_with_time_zone(Channel::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_channel_platform_account")
                    .table(Channel::Table)
                    .col(Channel::Platform)
                    .col(Channel::AccountId)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Channel::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
pub enum Channel {
    Table,
    Id,
    Platform,
    AccountId,
    Name,
    Department,
    CreatedAt,
}
