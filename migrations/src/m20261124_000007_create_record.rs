use sea_orm_migration::{prelude::*, schema::*};

use super::m20261124_000005_create_channel::Channel;
use super::m20261124_000006_create_identity::Identity;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Record::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Record::Id))
                    .col(big_integer(Record::ChannelId))
                    .col(string(Record::Kind))
                    .col(string(Record::PlatformId))
                    .col(string_null(Record::ParentPlatformId))
                    .col(big_integer_null(Record::ParentId))
                    .col(big_integer_null(Record::AuthorIdentityId))
                    .col(string(Record::Direction))
                    .col(timestamp_with_time_zone_null(Record::PlatformTime))
                    .col(timestamp_with_time_zone(Record::ArchivedAt))
                    .col(text_null(Record::Text))
                    .col(string_null(Record::ReactionType))
                    .col(text(Record::Attachments))
                    .col(string(Record::Visibility))
                    .col(string_null(Record::RegistrationNumber))
                    .col(integer(Record::VersionCount))
                    .col(string(Record::CurrentHash))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_record_channel")
                            .from(Record::Table, Record::ChannelId)
                            .to(Channel::Table, Channel::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_record_author")
                            .from(Record::Table, Record::AuthorIdentityId)
                            .to(Identity::Table, Identity::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_record_parent")
                            .from(Record::Table, Record::ParentId)
                            .to(Record::Table, Record::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        let indexes: [(&str, Vec<Record>, bool); 4] = [
            (
                "uq_record_channel_platform_id",
                vec![Record::ChannelId, Record::PlatformId],
                true,
            ),
            // "All records of identity X", newest first.
            (
                "idx_record_author_time",
                vec![Record::AuthorIdentityId, Record::PlatformTime],
                false,
            ),
            // "All records under post Y".
            ("idx_record_parent", vec![Record::ParentId], false),
            // Children that arrived before their parent are linked when it comes.
            (
                "idx_record_channel_parent_platform_id",
                vec![Record::ChannelId, Record::ParentPlatformId],
                false,
            ),
        ];
        for (name, cols, unique) in indexes {
            let mut idx = Index::create();
            idx.name(name).table(Record::Table);
            for c in cols {
                idx.col(c);
            }
            if unique {
                idx.unique();
            }
            manager.create_index(idx.to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Record::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
pub enum Record {
    Table,
    Id,
    ChannelId,
    Kind,
    PlatformId,
    ParentPlatformId,
    ParentId,
    AuthorIdentityId,
    Direction,
    PlatformTime,
    ArchivedAt,
    Text,
    ReactionType,
    Attachments,
    Visibility,
    RegistrationNumber,
    VersionCount,
    CurrentHash,
}
