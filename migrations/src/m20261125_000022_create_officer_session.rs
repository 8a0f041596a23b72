use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The officer's pages keep a session here, not the API token in the browser: the cookie holds a
/// session secret (stored hashed) that ends at logout, at its expiry or with the token.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(OfficerSession::Table)
                    .if_not_exists()
                    .col(big_pk_auto(OfficerSession::Id))
                    .col(string_uniq(OfficerSession::SecretHash))
                    .col(big_integer(OfficerSession::TokenId))
                    .col(timestamp_with_time_zone(OfficerSession::CreatedAt))
                    .col(timestamp_with_time_zone(OfficerSession::ExpiresAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_officer_session_token")
                            .from(OfficerSession::Table, OfficerSession::TokenId)
                            .to(ApiToken::Table, ApiToken::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(OfficerSession::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum OfficerSession {
    Table,
    Id,
    SecretHash,
    TokenId,
    CreatedAt,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum ApiToken {
    Table,
    Id,
}
