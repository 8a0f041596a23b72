//! Reads about requests that others need: a request by its reference, whether a restriction
//! holds, and which requests were a person's.
use super::*;

/// The requests that acted on one of `identity_ids` as the person's (verified there, or a match
/// confirmed there), sorted. Merely naming an account proves nothing: anyone may name anyone's.
pub async fn acting_on<C: ConnectionTrait>(
    db: &C,
    identity_ids: &[i64],
) -> Result<Vec<i64>, DbErr> {
    let mut ids: Vec<i64> = request_identity::Entity::find()
        .select_only()
        .column(request_identity::Column::RequestId)
        .filter(request_identity::Column::IdentityId.is_in(identity_ids.to_vec()))
        .filter(request_identity::Column::VerifiedAt.is_not_null())
        .into_tuple()
        .all(db)
        .await?;
    ids.extend(
        request_match::Entity::find()
            .select_only()
            .column(request_match::Column::RequestId)
            .filter(request_match::Column::IdentityId.is_in(identity_ids.to_vec()))
            .filter(request_match::Column::State.eq("confirmed"))
            .into_tuple::<i64>()
            .all(db)
            .await?,
    );
    ids.sort_unstable();
    ids.dedup();
    Ok(ids)
}

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
