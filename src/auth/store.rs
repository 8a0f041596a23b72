//! Token queries and mutations. Every mutation writes its audit entry in the same transaction.
use super::rules::{Role, TokenName, hash_secret, new_secret, new_session_secret};
use crate::audit::{self, Actor, NewEntry};
use chrono::Utc;
use entities::{api_token, officer_session};
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

/// How long an officer's page session lasts without a new sign-in.
pub const SESSION_HOURS: i64 = 8;

/// Opens a page session for `token`, with its audit entry, and drops the sessions that have
/// expired; the session's secret, for the cookie (the API token itself never goes to the browser).
pub async fn open_session(
    db: &DatabaseConnection,
    token: &api_token::Model,
) -> Result<String, DbErr> {
    let secret = new_session_secret();
    let at = Utc::now();
    let txn = db.begin().await?;
    officer_session::Entity::delete_many()
        .filter(officer_session::Column::ExpiresAt.lt(at))
        .exec(&txn)
        .await?;
    let session = officer_session::ActiveModel {
        secret_hash: Set(hash_secret(&secret)),
        token_id: Set(token.id),
        created_at: Set(at),
        expires_at: Set(at + chrono::Duration::hours(SESSION_HOURS)),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    audit::append(
        &txn,
        &Actor {
            id: format!("token:{}", token.id),
            role: token.role.clone(),
        },
        NewEntry {
            action: "session.open",
            target: format!("session:{}", session.id),
            details: serde_json::json!({}),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(secret)
}

/// The token behind a page session that has not expired, unless the token was revoked since.
pub async fn session_token(
    db: &DatabaseConnection,
    secret: &str,
) -> Result<Option<api_token::Model>, DbErr> {
    let Some(session) = officer_session::Entity::find()
        .filter(officer_session::Column::SecretHash.eq(hash_secret(secret)))
        .filter(officer_session::Column::ExpiresAt.gt(Utc::now()))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    Ok(api_token::Entity::find_by_id(session.token_id)
        .one(db)
        .await?
        .filter(|t| t.revoked_at.is_none_or(|at| at > Utc::now())))
}

/// Ends a page session (signing out), with its audit entry; a session already gone is no error.
pub async fn close_session(db: &DatabaseConnection, secret: &str) -> Result<(), DbErr> {
    let txn = db.begin().await?;
    let Some(session) = officer_session::Entity::find()
        .filter(officer_session::Column::SecretHash.eq(hash_secret(secret)))
        .one(&txn)
        .await?
    else {
        return Ok(());
    };
    let token = api_token::Entity::find_by_id(session.token_id)
        .one(&txn)
        .await?;
    officer_session::Entity::delete_by_id(session.id)
        .exec(&txn)
        .await?;
    audit::append(
        &txn,
        &Actor {
            id: format!("token:{}", session.token_id),
            role: token.map(|t| t.role).unwrap_or_default(),
        },
        NewEntry {
            action: "session.close",
            target: format!("session:{}", session.id),
            details: serde_json::json!({}),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(())
}
