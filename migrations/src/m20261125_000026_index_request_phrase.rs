use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The import looks up the requests whose account phrase a message carries: without an index it
/// read every request for each message that held one.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name("idx_request_account_phrase")
                    .table(Request::Table)
                    .col(Request::AccountPhrase)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_request_account_phrase")
                    .table(Request::Table)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum Request {
    Table,
    AccountPhrase,
}
