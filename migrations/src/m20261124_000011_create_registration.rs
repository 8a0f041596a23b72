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
                    .table(Registration::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Registration::Id))
                    .col(string(Registration::Series))
                    .col(integer(Registration::Year))
                    .col(big_integer(Registration::Seq))
                    .col(string(Registration::Number))
                    .col(string(Registration::Reason))
                    .col(big_integer_null(Registration::RecordId))
                    .col(big_integer_null(Registration::RequestId))
                    .col(string(Registration::Title))
                    .col(timestamp_with_time_zone(Registration::RegisteredAt))
                    .col(string(Registration::RegisteredBy))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_registration_record")
                            .from(Registration::Table, Registration::RecordId)
                            .to(Record::Table, Record::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_registration_series_year_seq")
                    .table(Registration::Table)
                    .col(Registration::Series)
                    .col(Registration::Year)
                    .col(Registration::Seq)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_registration_number")
                    .table(Registration::Table)
                    .col(Registration::Number)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_registration_record")
                    .table(Registration::Table)
                    .col(Registration::RecordId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(RegistrationCounter::Table)
                    .if_not_exists()
                    .col(string(RegistrationCounter::Series))
                    .col(integer(RegistrationCounter::Year))
                    .col(big_integer(RegistrationCounter::Last))
                    .primary_key(
                        Index::create()
                            .col(RegistrationCounter::Series)
                            .col(RegistrationCounter::Year),
                    )
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(RegistrationCounter::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Registration::Table).to_owned())
            .await?;
        Ok(())
    }
}

#[derive(DeriveIden)]
pub enum Registration {
    Table,
    Id,
    Series,
    Year,
    Seq,
    Number,
    Reason,
    RecordId,
    RequestId,
    Title,
    RegisteredAt,
    RegisteredBy,
}

#[derive(DeriveIden)]
pub enum RegistrationCounter {
    Table,
    Series,
    Year,
    Last,
}
