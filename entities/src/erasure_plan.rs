use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "erasure_plan")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub request_id: i64,
    pub status: String,
    pub fingerprint: String,
    pub created_at: DateTimeUtc,
    pub created_by: String,
    pub executed_at: Option<DateTimeUtc>,
    pub executed_by: Option<String>,
    pub supersedes: Option<i64>,
    #[sea_orm(column_type = "Text")]
    pub changes: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
