use crate::m20261124_000007_create_record::Record;
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The person a message of the municipality's was sent to: their package holds it beside what
/// they wrote (GDPR Art. 15). Paged by id, as the author's records are. SQLite cannot add a
/// foreign key to a table that exists, so the column has none; identities are never deleted.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Record::Table)
                    .add_column(big_integer_null(RecipientIdentityId))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_record_recipient_id")
                    .table(Record::Table)
                    .col(RecipientIdentityId)
                    .col(Record::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_record_recipient_id")
                    .table(Record::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Record::Table)
                    .drop_column(RecipientIdentityId)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
struct RecipientIdentityId;
