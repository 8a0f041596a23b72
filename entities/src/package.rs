use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "package")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub request_id: i64,
    pub kind: String,
    pub status: String,
    pub file_name: Option<String>,
    pub sha256: Option<String>,
    pub size: Option<i64>,
    pub records: Option<i64>,
    pub downloads: i32,
    pub created_at: DateTimeUtc,
    pub built_at: Option<DateTimeUtc>,
    pub expires_at: Option<DateTimeUtc>,
    pub error: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
