//! Reads the officer's pages need: a request by its reference, and whether a restriction holds.
use super::*;

/// The request whose reference is `reference` (`DSR-2026-000123`); case and spaces around it do
/// not matter.
pub async fn by_reference(
    db: &DatabaseConnection,
    reference: &str,
) -> Result<Option<request::Model>, DbErr> {
    request::Entity::find()
        .filter(request::Column::Reference.eq(reference.trim().to_uppercase()))
        .one(db)
        .await
}

/// Whether any record is restricted by request `id` still: a carried-out restriction holds until
/// it is lifted (Art. 18(3)).
pub async fn restriction_holds(db: &DatabaseConnection, id: i64) -> Result<bool, DbErr> {
    Ok(entities::record::Entity::find()
        .filter(entities::record::Column::RestrictedBy.eq(id))
        .one(db)
        .await?
        .is_some())
}
