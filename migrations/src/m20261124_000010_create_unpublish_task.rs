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
                    .table(UnpublishTask::Table)
                    .if_not_exists()
                    .col(big_pk_auto(UnpublishTask::Id))
                    .col(big_integer_null(UnpublishTask::RecordId))
                    .col(big_integer(UnpublishTask::ChannelId))
                    .col(big_integer_null(UnpublishTask::IdentityId))
                    .col(string(UnpublishTask::Reason))
                    .col(string(UnpublishTask::Action))
                    .col(string(UnpublishTask::Link))
                    .col(string_null(UnpublishTask::Source))
                    .col(string(UnpublishTask::Status))
                    .col(text_null(UnpublishTask::Note))
                    .col(timestamp_with_time_zone(UnpublishTask::CreatedAt))
                    .col(timestamp_with_time_zone_null(UnpublishTask::ClosedAt))
                    .col(string_null(UnpublishTask::ClosedBy))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_unpublish_task_record")
                            .from(UnpublishTask::Table, UnpublishTask::RecordId)
                            .to(Record::Table, Record::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_unpublish_task_channel")
                            .from(UnpublishTask::Table, UnpublishTask::ChannelId)
                            .to(Channel::Table, Channel::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_unpublish_task_identity")
                            .from(UnpublishTask::Table, UnpublishTask::IdentityId)
                            .to(Identity::Table, Identity::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_unpublish_task_status")
                    .table(UnpublishTask::Table)
                    .col(UnpublishTask::Status)
                    .col(UnpublishTask::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_unpublish_task_record")
                    .table(UnpublishTask::Table)
                    .col(UnpublishTask::RecordId)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(UnpublishTask::Table).to_owned())
            .await?;
        Ok(())
    }
}

#[derive(DeriveIden)]
pub enum UnpublishTask {
    Table,
    Id,
    RecordId,
    ChannelId,
    IdentityId,
    Reason,
    Action,
    Link,
    Source,
    Status,
    Note,
    CreatedAt,
    ClosedAt,
    ClosedBy,
}
