use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "request")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub reference: String,
    pub request_type: String,
    pub status: String,
    pub email: String,
    pub language: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub message: Option<String>,
    pub received_at: DateTimeUtc,
    pub due_at: Date,
    pub extended_due_at: Option<Date>,
    pub extension_months: i32,
    #[sea_orm(column_type = "Text", nullable)]
    pub extension_reason: Option<String>,
    pub status_token_hash: String,
    pub registration_number: Option<String>,
    pub assignee: Option<String>,
    pub duplicate_of: Option<i64>,
    pub created_by: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub closed_at: Option<DateTimeUtc>,
    #[sea_orm(column_type = "Text", nullable)]
    pub refusal_reason: Option<String>,
    pub email_verified_at: Option<DateTimeUtc>,
    pub code_hash: Option<String>,
    pub code_expires_at: Option<DateTimeUtc>,
    pub code_attempts: i32,
    pub codes_sent: i32,
    pub code_sent_at: Option<DateTimeUtc>,
    pub account_phrase: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
