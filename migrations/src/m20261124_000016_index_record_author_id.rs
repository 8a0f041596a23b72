use crate::m20261124_000007_create_record::Record;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// "All records of identity X" pages by id: with the id in the index the listing is a range scan
/// that stops at the page's end, instead of a sort of all the identity's records.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name("idx_record_author_id")
                    .table(Record::Table)
                    .col(Record::AuthorIdentityId)
                    .col(Record::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_record_author_id")
                    .table(Record::Table)
                    .to_owned(),
            )
            .await
    }
}
