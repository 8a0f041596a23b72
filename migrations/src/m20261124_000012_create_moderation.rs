use crate::m20261124_000005_create_channel::Channel;
use crate::m20261124_000006_create_identity::Identity;
use crate::m20261124_000007_create_record::Record;
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Moderation::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Moderation::Id))
                    .col(big_integer(Moderation::RecordId))
                    .col(string(Moderation::Rule))
                    .col(string(Moderation::Action))
                    .col(text_null(Moderation::Note))
                    .col(string(Moderation::RegistrationNumber))
                    .col(string(Moderation::DecidedBy))
                    .col(timestamp_with_time_zone(Moderation::DecidedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_moderation_record")
                            .from(Moderation::Table, Moderation::RecordId)
                            .to(Record::Table, Record::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_moderation_record")
                    .table(Moderation::Table)
                    .col(Moderation::RecordId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(IdentityBlock::Table)
                    .if_not_exists()
                    .col(big_pk_auto(IdentityBlock::Id))
                    .col(big_integer(IdentityBlock::IdentityId))
                    .col(big_integer(IdentityBlock::ChannelId))
                    .col(big_integer_null(IdentityBlock::ModerationId))
                    .col(timestamp_with_time_zone(IdentityBlock::BlockedAt))
                    .col(string(IdentityBlock::BlockedBy))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_identity_block_identity")
                            .from(IdentityBlock::Table, IdentityBlock::IdentityId)
                            .to(Identity::Table, Identity::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_identity_block_channel")
                            .from(IdentityBlock::Table, IdentityBlock::ChannelId)
                            .to(Channel::Table, Channel::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_identity_block_moderation")
                            .from(IdentityBlock::Table, IdentityBlock::ModerationId)
                            .to(Moderation::Table, Moderation::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_identity_block_identity_channel")
                    .table(IdentityBlock::Table)
                    .col(IdentityBlock::IdentityId)
                    .col(IdentityBlock::ChannelId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(IdentityBlock::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Moderation::Table).to_owned())
            .await?;
        Ok(())
    }
}

#[derive(DeriveIden)]
pub enum Moderation {
    Table,
    Id,
    RecordId,
    Rule,
    Action,
    Note,
    RegistrationNumber,
    DecidedBy,
    DecidedAt,
}

#[derive(DeriveIden)]
pub enum IdentityBlock {
    Table,
    Id,
    IdentityId,
    ChannelId,
    ModerationId,
    BlockedAt,
    BlockedBy,
}
