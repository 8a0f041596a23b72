use crate::m20261124_000005_create_channel::Channel;
use crate::m20261124_000006_create_identity::Identity;
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(LegalHold::Table)
                    .if_not_exists()
                    .col(big_pk_auto(LegalHold::Id))
                    .col(string(LegalHold::Reason))
                    .col(string(LegalHold::Scope))
                    .col(text_null(LegalHold::RecordIds))
                    .col(big_integer_null(LegalHold::IdentityId))
                    .col(big_integer_null(LegalHold::ChannelId))
                    .col(date(LegalHold::HoldsFrom))
                    .col(date_null(LegalHold::HoldsUntil))
                    .col(timestamp_with_time_zone(LegalHold::CreatedAt))
                    .col(string(LegalHold::CreatedBy))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_legal_hold_identity")
                            .from(LegalHold::Table, LegalHold::IdentityId)
                            .to(Identity::Table, Identity::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_legal_hold_channel")
                            .from(LegalHold::Table, LegalHold::ChannelId)
                            .to(Channel::Table, Channel::Id),
                    )
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(LegalHold::Table).to_owned())
            .await?;
        Ok(())
    }
}

#[derive(DeriveIden)]
pub enum LegalHold {
    Table,
    Id,
    Reason,
    Scope,
    RecordIds,
    IdentityId,
    ChannelId,
    HoldsFrom,
    HoldsUntil,
    CreatedAt,
    CreatedBy,
}
