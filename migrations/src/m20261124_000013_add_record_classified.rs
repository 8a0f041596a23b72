use crate::m20261124_000007_create_record::Record;
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// A record moderated as classified (sekretessbelagd) is seen only by officers.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Record::Table)
                    .add_column(boolean(Alias::new("classified")).default(false))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Record::Table)
                    .drop_column(Alias::new("classified"))
                    .to_owned(),
            )
            .await
    }
}
