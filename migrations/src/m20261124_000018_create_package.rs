use crate::m20261124_000017_create_request::Request;
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Access and export packages: built by a job into a file, downloaded with the status token.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Package::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Package::Id))
                    .col(big_integer(Package::RequestId))
                    .col(string(Package::Kind))
                    .col(string(Package::Status))
                    .col(string_null(Package::FileName))
                    .col(string_null(Package::Sha256))
                    .col(big_integer_null(Package::Size))
                    .col(big_integer_null(Package::Records))
                    .col(integer(Package::Downloads).default(0))
                    .col(timestamp_with_time_zone(Package::CreatedAt))
                    .col(timestamp_with_time_zone_null(Package::BuiltAt))
                    .col(timestamp_with_time_zone_null(Package::ExpiresAt))
                    .col(string_null(Package::Error))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_package_request")
                            .from(Package::Table, Package::RequestId)
                            .to(Request::Table, Request::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_package_request")
                    .table(Package::Table)
                    .col(Package::RequestId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Package::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
pub enum Package {
    Table,
    Id,
    RequestId,
    Kind,
    Status,
    FileName,
    Sha256,
    Size,
    Records,
    Downloads,
    CreatedAt,
    BuiltAt,
    ExpiresAt,
    Error,
}
