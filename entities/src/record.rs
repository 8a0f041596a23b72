use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "record")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub channel_id: i64,
    pub kind: String,
    pub platform_id: String,
    pub parent_platform_id: Option<String>,
    pub parent_id: Option<i64>,
    pub author_identity_id: Option<i64>,
    pub direction: String,
    pub platform_time: Option<DateTimeUtc>,
    pub archived_at: DateTimeUtc,
    #[sea_orm(column_type = "Text", nullable)]
    pub text: Option<String>,
    pub reaction_type: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub attachments: String,
    pub visibility: String,
    pub registration_number: Option<String>,
    pub version_count: i32,
    pub current_hash: String,
    pub classified: bool,
    /// The request whose restriction (Art. 18) covers the record, while it holds.
    pub restricted_by: Option<i64>,
    /// The person a message of the municipality's was sent to.
    pub recipient_identity_id: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
