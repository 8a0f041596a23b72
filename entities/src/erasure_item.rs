use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "erasure_item")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub plan_id: i64,
    pub kind: String,
    pub target_id: Option<i64>,
    #[sea_orm(column_type = "Text")]
    pub label: String,
    pub decision: String,
    pub ground: String,
    #[sea_orm(column_type = "Text")]
    pub sentence: String,
    pub until: Option<Date>,
    pub reference: Option<String>,
    pub count: i64,
    pub excluded: bool,
    #[sea_orm(column_type = "Text", nullable)]
    pub exclusion_reason: Option<String>,
    pub outcome: Option<String>,
    pub task_id: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
