use crate::m20261124_000006_create_identity::Identity;
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Data-subject requests, the identities they name, possible matches by display name, and each
/// request's history.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Request::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Request::Id))
                    .col(string(Request::Reference))
                    .col(string(Request::RequestType))
                    .col(string(Request::Status))
                    .col(string(Request::Email))
                    .col(string(Request::Language))
                    .col(text_null(Request::Message))
                    .col(timestamp_with_time_zone(Request::ReceivedAt))
                    .col(date(Request::DueAt))
                    .col(date_null(Request::ExtendedDueAt))
                    .col(integer(Request::ExtensionMonths).default(0))
                    .col(text_null(Request::ExtensionReason))
                    .col(string(Request::StatusTokenHash))
                    .col(string_null(Request::RegistrationNumber))
                    .col(string_null(Request::Assignee))
                    .col(big_integer_null(Request::DuplicateOf))
                    .col(string(Request::CreatedBy))
                    .col(timestamp_with_time_zone(Request::CreatedAt))
                    .col(timestamp_with_time_zone(Request::UpdatedAt))
                    .col(timestamp_with_time_zone_null(Request::ClosedAt))
                    .col(text_null(Request::RefusalReason))
                    .col(timestamp_with_time_zone_null(Request::EmailVerifiedAt))
                    .col(string_null(Request::CodeHash))
                    .col(timestamp_with_time_zone_null(Request::CodeExpiresAt))
                    .col(integer(Request::CodeAttempts).default(0))
                    .col(integer(Request::CodesSent).default(0))
                    .col(timestamp_with_time_zone_null(Request::CodeSentAt))
                    .col(string(Request::AccountPhrase))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_request_reference")
                    .table(Request::Table)
                    .col(Request::Reference)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_request_status_token_hash")
                    .table(Request::Table)
                    .col(Request::StatusTokenHash)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_request_status_due")
                    .table(Request::Table)
                    .col(Request::Status)
                    .col(Request::DueAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_request_email")
                    .table(Request::Table)
                    .col(Request::Email)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(RequestIdentity::Table)
                    .if_not_exists()
                    .col(big_pk_auto(RequestIdentity::Id))
                    .col(big_integer(RequestIdentity::RequestId))
                    .col(string(RequestIdentity::Platform))
                    .col(string(RequestIdentity::Value))
                    .col(big_integer_null(RequestIdentity::IdentityId))
                    .col(string_null(RequestIdentity::VerifiedBy))
                    .col(timestamp_with_time_zone_null(RequestIdentity::VerifiedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_request_identity_request")
                            .from(RequestIdentity::Table, RequestIdentity::RequestId)
                            .to(Request::Table, Request::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_request_identity_identity")
                            .from(RequestIdentity::Table, RequestIdentity::IdentityId)
                            .to(Identity::Table, Identity::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_request_identity_request")
                    .table(RequestIdentity::Table)
                    .col(RequestIdentity::RequestId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_request_identity_identity")
                    .table(RequestIdentity::Table)
                    .col(RequestIdentity::IdentityId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(RequestMatch::Table)
                    .if_not_exists()
                    .col(big_pk_auto(RequestMatch::Id))
                    .col(big_integer(RequestMatch::RequestId))
                    .col(big_integer(RequestMatch::RequestIdentityId))
                    .col(big_integer(RequestMatch::IdentityId))
                    .col(string(RequestMatch::State))
                    .col(string_null(RequestMatch::DecidedBy))
                    .col(timestamp_with_time_zone_null(RequestMatch::DecidedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_request_match_request")
                            .from(RequestMatch::Table, RequestMatch::RequestId)
                            .to(Request::Table, Request::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_request_match_request_identity")
                            .from(RequestMatch::Table, RequestMatch::RequestIdentityId)
                            .to(RequestIdentity::Table, RequestIdentity::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_request_match_identity")
                            .from(RequestMatch::Table, RequestMatch::IdentityId)
                            .to(Identity::Table, Identity::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_request_match")
                    .table(RequestMatch::Table)
                    .col(RequestMatch::RequestIdentityId)
                    .col(RequestMatch::IdentityId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(RequestEvent::Table)
                    .if_not_exists()
                    .col(big_pk_auto(RequestEvent::Id))
                    .col(big_integer(RequestEvent::RequestId))
                    .col(timestamp_with_time_zone(RequestEvent::At))
                    .col(string(RequestEvent::Actor))
                    .col(string(RequestEvent::Kind))
                    .col(boolean(RequestEvent::Public))
                    .col(text(RequestEvent::Details))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_request_event_request")
                            .from(RequestEvent::Table, RequestEvent::RequestId)
                            .to(Request::Table, Request::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_request_event_request")
                    .table(RequestEvent::Table)
                    .col(RequestEvent::RequestId)
                    .col(RequestEvent::Id)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(RequestEvent::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(RequestMatch::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(RequestIdentity::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Request::Table).to_owned())
            .await?;
        Ok(())
    }
}

// `request_type`: the API calls it `type`, which is a poor column name in SQL.
#[allow(clippy::enum_variant_names)]
#[derive(DeriveIden)]
pub enum Request {
    Table,
    Id,
    Reference,
    RequestType,
    Status,
    Email,
    Language,
    Message,
    ReceivedAt,
    DueAt,
    ExtendedDueAt,
    ExtensionMonths,
    ExtensionReason,
    StatusTokenHash,
    RegistrationNumber,
    Assignee,
    DuplicateOf,
    CreatedBy,
    CreatedAt,
    UpdatedAt,
    ClosedAt,
    RefusalReason,
    EmailVerifiedAt,
    CodeHash,
    CodeExpiresAt,
    CodeAttempts,
    CodesSent,
    CodeSentAt,
    AccountPhrase,
}

#[derive(DeriveIden)]
pub enum RequestIdentity {
    Table,
    Id,
    RequestId,
    Platform,
    Value,
    IdentityId,
    VerifiedBy,
    VerifiedAt,
}

#[derive(DeriveIden)]
pub enum RequestMatch {
    Table,
    Id,
    RequestId,
    RequestIdentityId,
    IdentityId,
    State,
    DecidedBy,
    DecidedAt,
}

#[derive(DeriveIden)]
pub enum RequestEvent {
    Table,
    Id,
    RequestId,
    At,
    Actor,
    Kind,
    Public,
    Details,
}
