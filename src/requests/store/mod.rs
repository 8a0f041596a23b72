//! Requests over `request`, `request_identity`, `request_match` and `request_event`: intake,
//! proof of identity, the officer's actions. Every action is one transaction with its history
//! event, its audit entry and the mail it causes.
use super::clock::due_date;
use super::mail::{self as letters, Case};
use super::rules::{
    Action, CODE_ATTEMPTS, CODE_MINUTES, CODE_PAUSE_SECONDS, CODES_PER_REQUEST, ProofMethod,
    RequestType, Status, account_key, may_be_name, new_code, new_phrase, new_status_token,
    phrases_in, reference, transition, unkeyed_code_hash,
};
use crate::audit::{self, Actor, NewEntry, now};
use crate::auth::rules::hash_secret;
use crate::mail::rules::{Email, Language};
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use entities::{identity, request, request_event, request_identity, request_match};
use sea_orm::sea_query::ExprTrait;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbErr,
    EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set, TransactionTrait,
};

/// What a request needs from the settings.
#[derive(Clone, Debug)]
pub struct Context {
    /// Keys the codes' hashes and seals the secrets mailed with a request.
    pub secret: crate::secret::ServerSecret,
    pub public_url: String,
    pub numbering: crate::registry::Numbering,
    pub time_zone: chrono_tz::Tz,
}

impl Context {
    pub fn today(&self, at: DateTime<Utc>) -> NaiveDate {
        at.with_timezone(&self.time_zone).date_naive()
    }

    /// The request's status page; the status token, which opens it, is mailed once with the receipt.
    fn status_page(&self, id: i64) -> String {
        format!("{}/requests/{id}", self.public_url.trim_end_matches('/'))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    #[error("no request {0}")]
    NotFound(i64),
    #[error("request {0} has no possible match {1}")]
    NoMatch(i64, i64),
    #[error("{0}")]
    Illegal(String),
    #[error("the code is wrong; {0} attempts left")]
    WrongCode(i32),
    #[error("the code has expired")]
    CodeExpired,
    #[error("no attempts left for this code")]
    CodeExhausted,
    #[error("wait {0} seconds before asking for a new code")]
    CodeTooSoon(i64),
    #[error("{field}: {reason}")]
    Invalid { field: String, reason: String },
    #[error(transparent)]
    Db(#[from] DbErr),
}

pub(super) fn invalid(field: &str, reason: impl Into<String>) -> RequestError {
    RequestError::Invalid {
        field: field.into(),
        reason: reason.into(),
    }
}

pub fn language_of(r: &request::Model) -> Language {
    if r.language == "en" {
        Language::En
    } else {
        Language::Sv
    }
}

pub fn status_of(r: &request::Model) -> Status {
    Status::parse(&r.status).unwrap_or(Status::AwaitingVerification)
}

/// The date the request must be answered by: the extended date once extended.
pub fn due_of(r: &request::Model) -> NaiveDate {
    r.extended_due_at.unwrap_or(r.due_at)
}

pub async fn event<C: ConnectionTrait>(
    txn: &C,
    request_id: i64,
    actor: &str,
    kind: &str,
    public: bool,
    details: serde_json::Value,
) -> Result<(), DbErr> {
    request_event::ActiveModel {
        request_id: Set(request_id),
        at: Set(now()),
        actor: Set(actor.to_owned()),
        kind: Set(kind.to_owned()),
        public: Set(public),
        details: Set(details.to_string()),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    Ok(())
}

pub async fn log<C: ConnectionTrait>(
    txn: &C,
    actor: &Actor,
    action: &'static str,
    request_id: i64,
    details: serde_json::Value,
) -> Result<(), DbErr> {
    audit::append(
        txn,
        actor,
        NewEntry {
            action,
            target: format!("request:{request_id}"),
            details,
        },
    )
    .await
    .map(|_| ())
}

pub async fn send<C: ConnectionTrait>(
    txn: &C,
    r: &request::Model,
    mail: &crate::mail::rules::Rendered,
) -> Result<(), DbErr> {
    crate::mail::store::queue(txn, &address(r)?, mail)
        .await
        .map(|_| ())
}

/// Where the request's mail goes. Checked at intake: a stored address that no longer parses is
/// a bug, not the citizen's fault.
fn address(r: &request::Model) -> Result<Email, DbErr> {
    Email::parse(&r.email)
        .map_err(|e| DbErr::Custom(format!("request {} has an unusable address: {e}", r.id)))
}

/// The request a status token belongs to.
pub async fn by_status_token(
    db: &DatabaseConnection,
    token: &str,
) -> Result<Option<request::Model>, DbErr> {
    request::Entity::find()
        .filter(request::Column::StatusTokenHash.eq(hash_secret(token)))
        .one(db)
        .await
}

pub struct Detail {
    pub request: request::Model,
    pub identities: Vec<request_identity::Model>,
    pub matches: Vec<request_match::Model>,
    pub events: Vec<request_event::Model>,
}

pub async fn detail(db: &DatabaseConnection, id: i64) -> Result<Option<Detail>, DbErr> {
    let Some(request) = request::Entity::find_by_id(id).one(db).await? else {
        return Ok(None);
    };
    let identities = request_identity::Entity::find()
        .filter(request_identity::Column::RequestId.eq(id))
        .order_by_asc(request_identity::Column::Id)
        .all(db)
        .await?;
    let matches = request_match::Entity::find()
        .filter(request_match::Column::RequestId.eq(id))
        .order_by_asc(request_match::Column::Id)
        .all(db)
        .await?;
    let events = request_event::Entity::find()
        .filter(request_event::Column::RequestId.eq(id))
        .order_by_asc(request_event::Column::Id)
        .all(db)
        .await?;
    Ok(Some(Detail {
        request,
        identities,
        matches,
        events,
    }))
}

pub async fn lock(txn: &DatabaseTransaction, id: i64) -> Result<request::Model, RequestError> {
    let mut q = request::Entity::find_by_id(id);
    if txn.get_database_backend() == sea_orm::DbBackend::Postgres {
        q = q.lock_exclusive();
    }
    q.one(txn).await?.ok_or(RequestError::NotFound(id))
}

pub async fn move_to(
    txn: &DatabaseTransaction,
    r: request::Model,
    action: Action,
    change: impl FnOnce(&mut request::ActiveModel),
) -> Result<request::Model, RequestError> {
    let to = transition(status_of(&r), action).map_err(RequestError::Illegal)?;
    let mut a: request::ActiveModel = r.into();
    a.status = Set(to.as_str().to_owned());
    a.updated_at = Set(now());
    if !to.is_open() {
        a.closed_at = Set(Some(now()));
    }
    change(&mut a);
    Ok(a.update(txn).await?)
}

mod digest;
mod intake;
mod lookup;
mod officer;
mod proof;
mod rights;

pub use digest::send_digest;
pub use intake::{Intake, NewIdentity, NewRequest, Submitted, link_accounts, submit, submit_many};
pub use lookup::{acting_on, by_reference, restriction_holds};
pub use officer::{QueueFilter, assign, cancel, complete, extend, note, queue, refuse};
pub use proof::{decide_match, prove_by_message, resend_code, verify_code, verify_identity};
pub use rights::{CarryOut, carry_out, lift_restriction};
