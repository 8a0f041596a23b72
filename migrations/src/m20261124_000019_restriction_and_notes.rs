use crate::m20261124_000007_create_record::Record;
use crate::m20261124_000017_create_request::Request;
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Restriction of processing (Art. 18) as a flag on records with its ground, and correction notes
/// (Art. 16) kept beside records that themselves never change.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Record::Table)
                    .add_column(big_integer_null(Alias::new("restricted_by")))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(RecordNote::Table)
                    .if_not_exists()
                    .col(big_pk_auto(RecordNote::Id))
                    .col(big_integer(RecordNote::RecordId))
                    .col(big_integer_null(RecordNote::RequestId))
                    .col(text(RecordNote::Note))
                    .col(timestamp_with_time_zone(RecordNote::CreatedAt))
                    .col(string(RecordNote::CreatedBy))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_record_note_record")
                            .from(RecordNote::Table, RecordNote::RecordId)
                            .to(Record::Table, Record::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_record_note_request")
                            .from(RecordNote::Table, RecordNote::RequestId)
                            .to(Request::Table, Request::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_record_note_record")
                    .table(RecordNote::Table)
                    .col(RecordNote::RecordId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(RecordNote::Table).to_owned())
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Record::Table)
                    .drop_column(Alias::new("restricted_by"))
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
pub enum RecordNote {
    Table,
    Id,
    RecordId,
    RequestId,
    Note,
    CreatedAt,
    CreatedBy,
}
