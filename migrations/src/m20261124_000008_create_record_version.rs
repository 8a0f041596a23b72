use sea_orm_migration::{prelude::*, schema::*};

use super::m20261124_000007_create_record::Record;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(RecordVersion::Table)
                    .if_not_exists()
                    .col(big_pk_auto(RecordVersion::Id))
                    .col(big_integer(RecordVersion::RecordId))
                    .col(integer(RecordVersion::Seq))
                    .col(string(RecordVersion::Change))
                    .col(timestamp_with_time_zone(RecordVersion::SeenAt))
                    .col(text(RecordVersion::Content))
                    .col(string(RecordVersion::Hash))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_record_version_record")
                            .from(RecordVersion::Table, RecordVersion::RecordId)
                            .to(Record::Table, Record::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_record_version_seq")
                    .table(RecordVersion::Table)
                    .col(RecordVersion::RecordId)
                    .col(RecordVersion::Seq)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(RecordVersion::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum RecordVersion {
    Table,
    Id,
    RecordId,
    Seq,
    Change,
    SeenAt,
    Content,
    Hash,
}
