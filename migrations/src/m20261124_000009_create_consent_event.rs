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
                    .table(ConsentEvent::Table)
                    .if_not_exists()
                    .col(big_pk_auto(ConsentEvent::Id))
                    .col(big_integer(ConsentEvent::IdentityId))
                    .col(big_integer(ConsentEvent::ChannelId))
                    .col(big_integer_null(ConsentEvent::RecordId))
                    .col(string(ConsentEvent::Event))
                    .col(string_null(ConsentEvent::Interaction))
                    .col(string(ConsentEvent::Purpose))
                    .col(timestamp_with_time_zone(ConsentEvent::At))
                    .col(timestamp_with_time_zone(ConsentEvent::RecordedAt))
                    .col(string(ConsentEvent::PolicyVersion))
                    .col(string_null(ConsentEvent::Actor))
                    .col(text_null(ConsentEvent::Note))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_consent_event_identity")
                            .from(ConsentEvent::Table, ConsentEvent::IdentityId)
                            .to(Identity::Table, Identity::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_consent_event_channel")
                            .from(ConsentEvent::Table, ConsentEvent::ChannelId)
                            .to(Channel::Table, Channel::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_consent_event_record")
                            .from(ConsentEvent::Table, ConsentEvent::RecordId)
                            .to(Record::Table, Record::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_consent_event_identity_at")
                    .table(ConsentEvent::Table)
                    .col(ConsentEvent::IdentityId)
                    .col(ConsentEvent::At)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_consent_event_record_event")
                    .table(ConsentEvent::Table)
                    .col(ConsentEvent::RecordId)
                    .col(ConsentEvent::Event)
                    .unique()
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ConsentEvent::Table).to_owned())
            .await?;
        Ok(())
    }
}

#[derive(DeriveIden)]
pub enum ConsentEvent {
    Table,
    Id,
    IdentityId,
    ChannelId,
    RecordId,
    Event,
    Interaction,
    Purpose,
    At,
    RecordedAt,
    PolicyVersion,
    Actor,
    Note,
}
