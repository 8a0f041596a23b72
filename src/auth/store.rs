//! Token queries and mutations. Every mutation writes its audit entry in the same transaction.
use super::rules::{Role, TokenName, hash_secret, new_secret};
use crate::audit::{self, Actor, NewEntry};
use chrono::Utc;
use entities::api_token;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    QueryFilter, QueryOrder, Set, TransactionTrait,
};

pub struct Created {
    pub token: api_token::Model,
    pub secret: String,
}

pub async fn create(
    db: &DatabaseConnection,
    name: &TokenName,
    role: Role,
    actor: &Actor,
) -> Result<Created, DbErr> {
    let secret = new_secret();
    let txn = db.begin().await?;
    let token = api_token::ActiveModel {
        name: Set(name.as_str().to_owned()),
        role: Set(role.as_str().to_owned()),
        token_hash: Set(hash_secret(&secret)),
        created_at: Set(audit::now()),
        revoked_at: Set(None),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    audit::append(
        &txn,
        actor,
        NewEntry {
            action: "token.create",
            target: format!("token:{}", token.id),
            details: serde_json::json!({ "role": role.as_str() }),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(Created { token, secret })
}

pub async fn list(db: &DatabaseConnection) -> Result<Vec<api_token::Model>, DbErr> {
    api_token::Entity::find()
        .order_by_asc(api_token::Column::Id)
        .all(db)
        .await
}

/// Revokes a token. `Ok(None)` when there is no such token; revoking twice is harmless.
pub async fn revoke(
    db: &DatabaseConnection,
    id: i64,
    actor: &Actor,
) -> Result<Option<api_token::Model>, DbErr> {
    let txn = db.begin().await?;
    let Some(found) = api_token::Entity::find_by_id(id).one(&txn).await? else {
        return Ok(None);
    };
    if found.revoked_at.is_some() {
        return Ok(Some(found));
    }
    let mut active: api_token::ActiveModel = found.into();
    active.revoked_at = Set(Some(audit::now()));
    let updated = active.update(&txn).await?;
    audit::append(
        &txn,
        actor,
        NewEntry {
            action: "token.revoke",
            target: format!("token:{id}"),
            details: serde_json::json!({}),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(Some(updated))
}

/// The live token with this secret, if any.
pub async fn find_by_secret<C: ConnectionTrait>(
    db: &C,
    secret: &str,
) -> Result<Option<api_token::Model>, DbErr> {
    api_token::Entity::find()
        .filter(api_token::Column::TokenHash.eq(hash_secret(secret)))
        .filter(api_token::Column::RevokedAt.is_null())
        .one(db)
        .await
        .map(|t| t.filter(|t| t.revoked_at.is_none_or(|at| at > Utc::now())))
}
