//! Requests over `request`, `request_identity`, `request_match` and `request_event`: intake,
//! proof of identity, the officer's actions. Every action is one transaction with its history
//! event, its audit entry and the mail it causes.
use super::clock::due_date;
use super::mail::{self as letters, Case};
use super::rules::{
    Action, CODE_ATTEMPTS, CODE_MINUTES, CODE_PAUSE_SECONDS, CODES_PER_REQUEST, ProofMethod,
    RequestType, Status, account_key, code_hash, contains_phrase, new_code, new_phrase,
    new_status_token, reference, transition,
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
    pub public_url: String,
    pub numbering: crate::registry::Numbering,
    pub time_zone: chrono_tz::Tz,
}

impl Context {
    pub fn today(&self, at: DateTime<Utc>) -> NaiveDate {
        at.with_timezone(&self.time_zone).date_naive()
    }

    fn status_link(&self, id: i64, token: &str) -> String {
        format!(
            "{}/requests/{id}?token={token}",
            self.public_url.trim_end_matches('/')
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    #[error("no request {0}")]
    NotFound(i64),
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

fn invalid(field: &str, reason: impl Into<String>) -> RequestError {
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

async fn event<C: ConnectionTrait>(
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

async fn log<C: ConnectionTrait>(
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

async fn send<C: ConnectionTrait>(
    txn: &C,
    r: &request::Model,
    mail: &crate::mail::rules::Rendered,
) -> Result<(), DbErr> {
    // Checked at intake; a stored address that no longer parses is a bug, not the citizen's fault.
    let to = Email::parse(&r.email)
        .map_err(|e| DbErr::Custom(format!("request {} has an unusable address: {e}", r.id)))?;
    crate::mail::store::queue(txn, &to, mail).await.map(|_| ())
}

pub struct NewIdentity {
    pub platform: String,
    pub value: String,
}

pub struct NewRequest {
    pub request_type: RequestType,
    pub email: Email,
    pub language: Language,
    pub identities: Vec<NewIdentity>,
    pub message: Option<String>,
    /// Set by an officer registering a request received by letter, phone or in person.
    pub received_at: Option<DateTime<Utc>>,
}

pub struct Submitted {
    pub request: request::Model,
    /// Shown once; absent when the submission was a duplicate of an open request.
    pub status_token: Option<String>,
    pub duplicate: bool,
}

fn identity_keys(ids: &[(String, String)]) -> Vec<(String, String)> {
    let mut keys: Vec<(String, String)> = ids
        .iter()
        .map(|(p, v)| (p.clone(), account_key(v)))
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

/// Takes in a request: registered, a reference and a due date, its identities matched against
/// the archive, the receipt and the code mailed. A duplicate of an open request is linked to it.
pub async fn submit(
    db: &DatabaseConnection,
    ctx: &Context,
    new: NewRequest,
    actor: &Actor,
) -> Result<Submitted, RequestError> {
    let txn = db.begin().await?;
    let at = now();
    let email = new.email.as_str().to_lowercase();
    let wanted = identity_keys(
        &new.identities
            .iter()
            .map(|i| (i.platform.clone(), i.value.clone()))
            .collect::<Vec<_>>(),
    );
    let open: Vec<request::Model> = request::Entity::find()
        .filter(request::Column::Email.eq(email.clone()))
        .filter(request::Column::RequestType.eq(new.request_type.as_str()))
        .filter(
            request::Column::Status.is_in(
                [
                    Status::AwaitingVerification,
                    Status::Verified,
                    Status::InProgress,
                    Status::AwaitingApproval,
                ]
                .map(Status::as_str),
            ),
        )
        .all(&txn)
        .await?;
    for existing in open {
        let ids: Vec<(String, String)> = request_identity::Entity::find()
            .filter(request_identity::Column::RequestId.eq(existing.id))
            .all(&txn)
            .await?
            .into_iter()
            .map(|i| (i.platform, i.value))
            .collect();
        if identity_keys(&ids) == wanted {
            event(
                &txn,
                existing.id,
                &actor.id,
                "duplicate_received",
                true,
                serde_json::json!({}),
            )
            .await?;
            send(
                &txn,
                &existing,
                &letters::duplicate(
                    language_of(&existing),
                    &existing.reference,
                    &existing.status,
                ),
            )
            .await?;
            log(
                &txn,
                actor,
                "request.duplicate",
                existing.id,
                serde_json::json!({}),
            )
            .await?;
            txn.commit().await?;
            return Ok(Submitted {
                request: existing,
                status_token: None,
                duplicate: true,
            });
        }
    }

    let received = new.received_at.unwrap_or(at);
    let year = ctx.today(at).year();
    let token = new_status_token();
    let code = new_code();
    let due = due_date(ctx.today(received), 1);
    let token_hash = hash_secret(&token);
    let mut created = request::ActiveModel {
        // Replaced below by the reference, which is made of the id.
        reference: Set(format!("pending-{}", &token_hash[..24])),
        request_type: Set(new.request_type.as_str().to_owned()),
        status: Set(Status::AwaitingVerification.as_str().to_owned()),
        email: Set(email),
        language: Set(match new.language {
            Language::Sv => "sv",
            Language::En => "en",
        }
        .to_owned()),
        message: Set(new.message),
        received_at: Set(received),
        due_at: Set(due),
        extended_due_at: Set(None),
        extension_months: Set(0),
        extension_reason: Set(None),
        status_token_hash: Set(token_hash),
        registration_number: Set(None),
        assignee: Set(None),
        duplicate_of: Set(None),
        created_by: Set(actor.id.clone()),
        created_at: Set(at),
        updated_at: Set(at),
        closed_at: Set(None),
        refusal_reason: Set(None),
        email_verified_at: Set(None),
        code_hash: Set(None),
        code_expires_at: Set(Some(at + chrono::Duration::minutes(CODE_MINUTES))),
        code_attempts: Set(0),
        codes_sent: Set(1),
        code_sent_at: Set(Some(at)),
        account_phrase: Set(new_phrase()),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    let mut a: request::ActiveModel = created.into();
    let id = *a.id.as_ref();
    a.reference = Set(reference(year, id));
    a.code_hash = Set(Some(code_hash(id, &code)));
    created = a.update(&txn).await?;

    for i in &new.identities {
        let row = request_identity::ActiveModel {
            request_id: Set(created.id),
            platform: Set(i.platform.clone()),
            value: Set(i.value.trim().to_owned()),
            identity_id: Set(None),
            verified_by: Set(None),
            verified_at: Set(None),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
        match_identity(&txn, &row).await?;
    }
    event(
        &txn,
        created.id,
        &actor.id,
        "received",
        true,
        serde_json::json!({"due_at": due}),
    )
    .await?;
    let link = ctx.status_link(created.id, &token);
    let case = Case {
        lang: language_of(&created),
        reference: &created.reference,
        request_type: &created.request_type,
        due,
        status_link: &link,
    };
    send(&txn, &created, &letters::receipt(&case)).await?;
    send(
        &txn,
        &created,
        &letters::code(case.lang, &created.reference, &code, CODE_MINUTES),
    )
    .await?;
    // The registration's counter and the audit chain serialise every writer: they come last, so
    // that the locks are held for as little as possible before the commit.
    let registration = crate::registry::register(
        &txn,
        &ctx.numbering,
        crate::registry::NewRegistration {
            reason: crate::registry::rules::RegistrationReason::Request,
            record_id: None,
            request_id: Some(created.id),
            title: format!(
                "Begäran enligt dataskyddsförordningen ({}), {}",
                new.request_type.as_str(),
                created.reference
            ),
        },
        actor,
    )
    .await?;
    let mut a: request::ActiveModel = created.into();
    a.registration_number = Set(Some(registration.number));
    created = a.update(&txn).await?;
    log(
        &txn,
        actor,
        "request.submit",
        created.id,
        serde_json::json!({"type": created.request_type, "reference": created.reference,
            "received_at": created.received_at, "due_at": due}),
    )
    .await?;
    txn.commit().await?;
    Ok(Submitted {
        request: created,
        status_token: Some(token),
        duplicate: false,
    })
}

/// Links a named account to the identity it names, by platform id or profile link; identities
/// whose display name only resembles it become possible matches for the officer to decide.
async fn match_identity(
    txn: &DatabaseTransaction,
    row: &request_identity::Model,
) -> Result<(), DbErr> {
    let key = account_key(&row.value);
    if key.is_empty() {
        return Ok(());
    }
    let candidates = identity::Entity::find()
        .filter(identity::Column::Platform.eq(row.platform.clone()))
        .filter(
            identity::Column::PlatformId
                .eq(key.clone())
                .or(identity::Column::ProfileLink.like(format!("%/{key}")))
                .or(identity::Column::ProfileLink.like(format!("%/{key}/")))
                .or(identity::Column::ProfileLink.like(format!("%id={key}"))),
        )
        .limit(2)
        .all(txn)
        .await?;
    if let [found] = candidates.as_slice() {
        let mut a: request_identity::ActiveModel = row.clone().into();
        a.identity_id = Set(Some(found.id));
        a.update(txn).await?;
        return Ok(());
    }
    // A name, not an account: never included without the officer's say.
    let value = row.value.trim();
    if value.chars().count() < 3 {
        return Ok(());
    }
    let similar = identity::Entity::find()
        .filter(identity::Column::Platform.eq(row.platform.clone()))
        .filter(identity::Column::DisplayName.like(format!("%{value}%")))
        .limit(20)
        .all(txn)
        .await?;
    for i in similar {
        request_match::ActiveModel {
            request_id: Set(row.request_id),
            request_identity_id: Set(row.id),
            identity_id: Set(i.id),
            state: Set("possible".into()),
            decided_by: Set(None),
            decided_at: Set(None),
            ..Default::default()
        }
        .insert(txn)
        .await?;
    }
    Ok(())
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

async fn lock(txn: &DatabaseTransaction, id: i64) -> Result<request::Model, RequestError> {
    let mut q = request::Entity::find_by_id(id);
    if txn.get_database_backend() == sea_orm::DbBackend::Postgres {
        q = q.lock_exclusive();
    }
    q.one(txn).await?.ok_or(RequestError::NotFound(id))
}

async fn move_to(
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

/// Confirms the address with the mailed code.
pub async fn verify_code(
    db: &DatabaseConnection,
    id: i64,
    code: &str,
    actor: &Actor,
) -> Result<request::Model, RequestError> {
    let txn = db.begin().await?;
    let r = lock(&txn, id).await?;
    if r.email_verified_at.is_some() || status_of(&r) != Status::AwaitingVerification {
        return Err(RequestError::Illegal(format!(
            "the request is {} and needs no code",
            r.status
        )));
    }
    if r.code_attempts >= CODE_ATTEMPTS {
        return Err(RequestError::CodeExhausted);
    }
    if r.code_expires_at.is_none_or(|e| e < now()) {
        return Err(RequestError::CodeExpired);
    }
    if r.code_hash.as_deref() != Some(code_hash(id, code).as_str()) {
        let attempts = r.code_attempts + 1;
        let mut a: request::ActiveModel = r.into();
        a.code_attempts = Set(attempts);
        a.update(&txn).await?;
        event(
            &txn,
            id,
            &actor.id,
            "code_wrong",
            false,
            serde_json::json!({"attempt": attempts}),
        )
        .await?;
        txn.commit().await?;
        return Err(if attempts >= CODE_ATTEMPTS {
            RequestError::CodeExhausted
        } else {
            RequestError::WrongCode(CODE_ATTEMPTS - attempts)
        });
    }
    let r = move_to(&txn, r, Action::Verify, |a| {
        a.email_verified_at = Set(Some(now()));
        a.code_hash = Set(None);
    })
    .await?;
    event(
        &txn,
        id,
        &actor.id,
        "email_verified",
        true,
        serde_json::json!({}),
    )
    .await?;
    log(
        &txn,
        actor,
        "request.verify_email",
        id,
        serde_json::json!({}),
    )
    .await?;
    txn.commit().await?;
    Ok(r)
}

/// Mails a new code, at most [`CODES_PER_REQUEST`] over the request's life and one a minute.
pub async fn resend_code(
    db: &DatabaseConnection,
    id: i64,
    actor: &Actor,
) -> Result<request::Model, RequestError> {
    let txn = db.begin().await?;
    let r = lock(&txn, id).await?;
    if status_of(&r) != Status::AwaitingVerification || r.email_verified_at.is_some() {
        return Err(RequestError::Illegal(format!(
            "the request is {} and needs no code",
            r.status
        )));
    }
    if let Some(sent) = r.code_sent_at {
        let wait = CODE_PAUSE_SECONDS - (now() - sent).num_seconds();
        if wait > 0 {
            return Err(RequestError::CodeTooSoon(wait));
        }
    }
    if r.codes_sent >= CODES_PER_REQUEST {
        return Err(RequestError::Illegal(
            "no more codes can be sent for this request; ask the municipality for help".into(),
        ));
    }
    let code = new_code();
    let at = now();
    let mut a: request::ActiveModel = r.clone().into();
    a.code_hash = Set(Some(code_hash(id, &code)));
    a.code_expires_at = Set(Some(at + chrono::Duration::minutes(CODE_MINUTES)));
    a.code_attempts = Set(0);
    a.codes_sent = Set(r.codes_sent + 1);
    a.code_sent_at = Set(Some(at));
    let r = a.update(&txn).await?;
    send(
        &txn,
        &r,
        &letters::code(language_of(&r), &r.reference, &code, CODE_MINUTES),
    )
    .await?;
    event(
        &txn,
        id,
        &actor.id,
        "code_sent",
        true,
        serde_json::json!({}),
    )
    .await?;
    txn.commit().await?;
    Ok(r)
}

/// An officer's proof of identity given outside the system: every named account counts as
/// verified, and an unverified request moves on.
pub async fn verify_identity(
    db: &DatabaseConnection,
    id: i64,
    method: ProofMethod,
    note: Option<String>,
    actor: &Actor,
) -> Result<request::Model, RequestError> {
    let txn = db.begin().await?;
    let mut r = lock(&txn, id).await?;
    if !status_of(&r).is_open() {
        return Err(RequestError::Illegal(format!(
            "the request is {}",
            r.status
        )));
    }
    let by = format!("officer:{}", method.as_str());
    for i in request_identity::Entity::find()
        .filter(request_identity::Column::RequestId.eq(id))
        .filter(request_identity::Column::VerifiedAt.is_null())
        .all(&txn)
        .await?
    {
        let mut a: request_identity::ActiveModel = i.into();
        a.verified_by = Set(Some(by.clone()));
        a.verified_at = Set(Some(now()));
        a.update(&txn).await?;
    }
    if status_of(&r) == Status::AwaitingVerification {
        r = move_to(&txn, r, Action::Verify, |_| {}).await?;
    }
    event(
        &txn,
        id,
        &actor.id,
        "identity_verified",
        true,
        serde_json::json!({"method": method.as_str(), "note": note}),
    )
    .await?;
    log(
        &txn,
        actor,
        "request.verify_identity",
        id,
        serde_json::json!({"method": method.as_str()}),
    )
    .await?;
    txn.commit().await?;
    Ok(r)
}

/// Called by the import for what it archived: a message or comment carrying an open request's
/// phrase, from the account the request names, proves control of that account.
pub async fn prove_by_message<C: ConnectionTrait>(
    txn: &C,
    platform: &str,
    texts: &[(i64, &str, &str)],
) -> Result<u64, DbErr> {
    if texts.is_empty() {
        return Ok(0);
    }
    let waiting = request::Entity::find()
        .filter(
            request::Column::Status.is_in(
                [
                    Status::AwaitingVerification,
                    Status::Verified,
                    Status::InProgress,
                ]
                .map(Status::as_str),
            ),
        )
        .all(txn)
        .await?;
    if waiting.is_empty() {
        return Ok(0);
    }
    let mut proved = 0;
    for (record_id, author_platform_id, text) in texts {
        for r in waiting
            .iter()
            .filter(|r| contains_phrase(text, &r.account_phrase))
        {
            let named = request_identity::Entity::find()
                .filter(request_identity::Column::RequestId.eq(r.id))
                .filter(request_identity::Column::VerifiedAt.is_null())
                .all(txn)
                .await?;
            let author = identity::Entity::find()
                .filter(identity::Column::Platform.eq(platform))
                .filter(identity::Column::PlatformId.eq(*author_platform_id))
                .one(txn)
                .await?;
            for ri in named {
                let same = ri.identity_id.is_some()
                    && ri.identity_id == author.as_ref().map(|a| a.id)
                    || account_key(&ri.value) == account_key(author_platform_id);
                if !same {
                    continue;
                }
                let mut a: request_identity::ActiveModel = ri.into();
                a.identity_id = Set(author.as_ref().map(|a| a.id));
                a.verified_by = Set(Some(format!("platform_message:record:{record_id}")));
                a.verified_at = Set(Some(now()));
                let ri = a.update(txn).await?;
                event(
                    txn,
                    r.id,
                    "import",
                    "account_verified",
                    true,
                    serde_json::json!({"request_identity": ri.id, "record": record_id}),
                )
                .await?;
                proved += 1;
            }
        }
    }
    Ok(proved)
}

pub struct QueueFilter {
    pub status: Option<Status>,
    pub request_type: Option<RequestType>,
    pub assignee: Option<String>,
    pub overdue: Option<bool>,
    pub due_before: Option<NaiveDate>,
    pub today: NaiveDate,
    /// The (due date, id) of the previous page's last row.
    pub after: Option<(NaiveDate, i64)>,
    pub limit: u64,
}

/// Open requests, earliest due first.
pub async fn queue(db: &DatabaseConnection, f: &QueueFilter) -> Result<Vec<request::Model>, DbErr> {
    let mut q = request::Entity::find().filter(
        request::Column::Status.is_in(
            [
                Status::AwaitingVerification,
                Status::Verified,
                Status::InProgress,
                Status::AwaitingApproval,
            ]
            .map(Status::as_str),
        ),
    );
    if let Some(s) = f.status {
        q = q.filter(request::Column::Status.eq(s.as_str()));
    }
    if let Some(t) = f.request_type {
        q = q.filter(request::Column::RequestType.eq(t.as_str()));
    }
    if let Some(a) = &f.assignee {
        q = q.filter(request::Column::Assignee.eq(a.clone()));
    }
    let mut rows = q.order_by_asc(request::Column::Id).all(db).await?;
    rows.retain(|r| {
        let due = due_of(r);
        f.overdue.is_none_or(|o| (due < f.today) == o)
            && f.due_before.is_none_or(|b| due < b)
            && f.after.is_none_or(|a| (due, r.id) > a)
    });
    rows.sort_by_key(|r| (due_of(r), r.id));
    rows.truncate(f.limit as usize);
    Ok(rows)
}

pub async fn assign(
    db: &DatabaseConnection,
    id: i64,
    assignee: String,
    actor: &Actor,
) -> Result<request::Model, RequestError> {
    let txn = db.begin().await?;
    let r = lock(&txn, id).await?;
    let status = status_of(&r);
    if !status.is_open() || status == Status::AwaitingVerification {
        return Err(RequestError::Illegal(format!(
            "a request that is {} cannot be assigned",
            r.status
        )));
    }
    let who = assignee.clone();
    let r = if status == Status::Verified {
        move_to(&txn, r, Action::Start, |a| a.assignee = Set(Some(who))).await?
    } else {
        let mut a: request::ActiveModel = r.into();
        a.assignee = Set(Some(who));
        a.updated_at = Set(now());
        a.update(&txn).await?
    };
    event(
        &txn,
        id,
        &actor.id,
        "assigned",
        false,
        serde_json::json!({"assignee": assignee}),
    )
    .await?;
    log(
        &txn,
        actor,
        "request.assign",
        id,
        serde_json::json!({"assignee": assignee}),
    )
    .await?;
    txn.commit().await?;
    Ok(r)
}

pub async fn note(
    db: &DatabaseConnection,
    id: i64,
    text: String,
    actor: &Actor,
) -> Result<(), RequestError> {
    let txn = db.begin().await?;
    lock(&txn, id).await?;
    event(
        &txn,
        id,
        &actor.id,
        "note",
        false,
        serde_json::json!({"text": text}),
    )
    .await?;
    log(&txn, actor, "request.note", id, serde_json::json!({})).await?;
    txn.commit().await?;
    Ok(())
}

pub async fn refuse(
    db: &DatabaseConnection,
    id: i64,
    reason: String,
    actor: &Actor,
) -> Result<request::Model, RequestError> {
    let txn = db.begin().await?;
    let r = lock(&txn, id).await?;
    let why = reason.clone();
    let r = move_to(&txn, r, Action::Refuse, |a| {
        a.refusal_reason = Set(Some(why))
    })
    .await?;
    send(
        &txn,
        &r,
        &letters::refusal(language_of(&r), &r.reference, &reason),
    )
    .await?;
    event(
        &txn,
        id,
        &actor.id,
        "refused",
        true,
        serde_json::json!({"reason": reason}),
    )
    .await?;
    log(&txn, actor, "request.refuse", id, serde_json::json!({})).await?;
    txn.commit().await?;
    Ok(r)
}

pub async fn cancel(
    db: &DatabaseConnection,
    id: i64,
    actor: &Actor,
) -> Result<request::Model, RequestError> {
    let txn = db.begin().await?;
    let r = lock(&txn, id).await?;
    let r = move_to(&txn, r, Action::Cancel, |_| {}).await?;
    event(
        &txn,
        id,
        &actor.id,
        "cancelled",
        true,
        serde_json::json!({}),
    )
    .await?;
    log(&txn, actor, "request.cancel", id, serde_json::json!({})).await?;
    txn.commit().await?;
    Ok(r)
}

/// Extends the deadline by `months` (at most two over the request's life), only before the
/// original due date; the person is told the new date and why.
pub async fn extend(
    db: &DatabaseConnection,
    ctx: &Context,
    id: i64,
    months: u32,
    reason: String,
    actor: &Actor,
) -> Result<request::Model, RequestError> {
    let txn = db.begin().await?;
    let r = lock(&txn, id).await?;
    if !status_of(&r).is_open() {
        return Err(RequestError::Illegal(format!(
            "the request is {}",
            r.status
        )));
    }
    if ctx.today(now()) > r.due_at {
        return Err(RequestError::Illegal(
            "an extension must be given before the original due date (GDPR art. 12.3)".into(),
        ));
    }
    let total = r.extension_months as u32 + months;
    if !(1..=2).contains(&months) || total > 2 {
        return Err(invalid(
            "months",
            format!(
                "at most two months in all; {} already granted",
                r.extension_months
            ),
        ));
    }
    let due = due_date(ctx.today(r.received_at), 1 + total);
    let mut a: request::ActiveModel = r.into();
    a.extension_months = Set(total as i32);
    a.extended_due_at = Set(Some(due));
    a.extension_reason = Set(Some(reason.clone()));
    a.updated_at = Set(now());
    let r = a.update(&txn).await?;
    send(
        &txn,
        &r,
        &letters::extension(language_of(&r), &r.reference, due, &reason),
    )
    .await?;
    event(
        &txn,
        id,
        &actor.id,
        "extended",
        true,
        serde_json::json!({"months": months, "due_at": due, "reason": reason}),
    )
    .await?;
    log(
        &txn,
        actor,
        "request.extend",
        id,
        serde_json::json!({"months": months, "due_at": due}),
    )
    .await?;
    txn.commit().await?;
    Ok(r)
}

pub async fn complete(
    db: &DatabaseConnection,
    ctx: &Context,
    id: i64,
    summary: String,
    actor: &Actor,
) -> Result<request::Model, RequestError> {
    let txn = db.begin().await?;
    let r = lock(&txn, id).await?;
    let r = move_to(&txn, r, Action::Complete, |_| {}).await?;
    // Access and export are answered with a package, built by a job from the verified accounts.
    let package = match RequestType::parse(&r.request_type) {
        Some(RequestType::Access) => Some(crate::packages::rules::PackageKind::Access),
        Some(RequestType::Export) => Some(crate::packages::rules::PackageKind::Export),
        _ => None,
    };
    if let Some(kind) = package {
        crate::packages::queue_build(&txn, id, kind).await?;
    }
    // The status token is not stored, so the link in this mail points at the page without it.
    let link = format!("{}/requests/{id}", ctx.public_url.trim_end_matches('/'));
    send(
        &txn,
        &r,
        &letters::completion(language_of(&r), &r.reference, &summary, &link),
    )
    .await?;
    event(
        &txn,
        id,
        &actor.id,
        "completed",
        true,
        serde_json::json!({"summary": summary}),
    )
    .await?;
    log(&txn, actor, "request.complete", id, serde_json::json!({})).await?;
    txn.commit().await?;
    Ok(r)
}

/// The officer confirms or rejects a possible match by display name.
pub async fn decide_match(
    db: &DatabaseConnection,
    id: i64,
    match_id: i64,
    confirm: bool,
    actor: &Actor,
) -> Result<request_match::Model, RequestError> {
    let txn = db.begin().await?;
    lock(&txn, id).await?;
    let m = request_match::Entity::find_by_id(match_id)
        .filter(request_match::Column::RequestId.eq(id))
        .one(&txn)
        .await?
        .ok_or_else(|| {
            invalid(
                "match_id",
                format!("request {id} has no possible match {match_id}"),
            )
        })?;
    if m.state != "possible" {
        return Err(RequestError::Illegal(format!(
            "the match is {} already",
            m.state
        )));
    }
    let state = if confirm { "confirmed" } else { "rejected" };
    let mut a: request_match::ActiveModel = m.into();
    a.state = Set(state.into());
    a.decided_by = Set(Some(actor.id.clone()));
    a.decided_at = Set(Some(now()));
    let m = a.update(&txn).await?;
    event(
        &txn,
        id,
        &actor.id,
        &format!("match_{state}"),
        false,
        serde_json::json!({"identity": m.identity_id}),
    )
    .await?;
    log(
        &txn,
        actor,
        "request.match",
        id,
        serde_json::json!({"match": m.id, "state": state}),
    )
    .await?;
    txn.commit().await?;
    Ok(m)
}

/// Mails each officer the open requests due within seven days and those overdue. Nothing is sent
/// when there is nothing to say.
pub async fn send_digest(
    db: &DatabaseConnection,
    ctx: &Context,
    officers: &[Email],
) -> Result<usize, DbErr> {
    if officers.is_empty() {
        return Ok(0);
    }
    let today = ctx.today(now());
    let horizon = today + chrono::Days::new(7);
    let rows = queue(
        db,
        &QueueFilter {
            status: None,
            request_type: None,
            assignee: None,
            overdue: None,
            due_before: Some(horizon + chrono::Days::new(1)),
            today,
            after: None,
            limit: 10_000,
        },
    )
    .await?;
    if rows.is_empty() {
        return Ok(0);
    }
    let lines: Vec<letters::DigestLine> = rows
        .iter()
        .map(|r| letters::DigestLine {
            reference: r.reference.clone(),
            request_type: r.request_type.clone(),
            status: r.status.clone(),
            due: due_of(r),
            days_left: super::clock::days_left(today, due_of(r)),
        })
        .collect();
    let mail = letters::digest(
        today,
        &lines,
        &format!("{}/officer", ctx.public_url.trim_end_matches('/')),
    );
    let txn = db.begin().await?;
    for to in officers {
        crate::mail::store::queue(&txn, to, &mail).await?;
    }
    txn.commit().await?;
    Ok(officers.len())
}

/// What carrying out a rectification needs: the records it concerns and the correction.
pub struct CarryOut {
    pub record_ids: Vec<i64>,
    pub note: Option<String>,
}

/// Carries out a verified rectification, restriction, objection or consent withdrawal on the
/// accounts the person proved theirs, completes the request and mails what was done and what was
/// not, and why. The archived records never change: archiving is a legal obligation.
pub async fn carry_out(
    db: &DatabaseConnection,
    ctx: &Context,
    id: i64,
    input: CarryOut,
    actor: &Actor,
) -> Result<request::Model, RequestError> {
    use crate::consent::rules::{TaskAction, TaskReason};
    use entities::record;
    let txn = db.begin().await?;
    let r = lock(&txn, id).await?;
    if status_of(&r) != Status::InProgress {
        return Err(RequestError::Illegal(format!(
            "a request that is {} cannot be carried out; assign it first",
            r.status
        )));
    }
    let kind = RequestType::parse(&r.request_type).unwrap_or(RequestType::Access);
    let identities: Vec<i64> = crate::packages::build::verified_identities(&txn, id)
        .await?
        .iter()
        .map(|i| i.id)
        .collect();
    if identities.is_empty() {
        return Err(RequestError::Illegal(
            "no account of the person is verified yet: verify one first".into(),
        ));
    }
    let theirs = || {
        record::Entity::find().filter(record::Column::AuthorIdentityId.is_in(identities.clone()))
    };
    let shown = ["visible", "hidden"];
    let published = ["comment", "reply", "reaction"];
    let lang = language_of(&r);
    let sv = lang == Language::Sv;
    let mut done: Vec<String> = vec![];
    let mut kept: Vec<String> = vec![];
    let mut details = serde_json::json!({});
    match kind {
        RequestType::Rectification => {
            let note = input
                .note
                .as_deref()
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .ok_or_else(|| invalid("note", "say what is wrong and what is right"))?
                .to_owned();
            if input.record_ids.is_empty() {
                return Err(invalid(
                    "record_ids",
                    "name the records the correction concerns",
                ));
            }
            for rid in &input.record_ids {
                let found = theirs()
                    .filter(record::Column::Id.eq(*rid))
                    .one(&txn)
                    .await?;
                if found.is_none() {
                    return Err(invalid(
                        "record_ids",
                        format!(
                            "record {rid} is not one of the person's verified accounts' records"
                        ),
                    ));
                }
                entities::record_note::ActiveModel {
                    record_id: Set(*rid),
                    request_id: Set(Some(id)),
                    note: Set(note.clone()),
                    created_at: Set(now()),
                    created_by: Set(actor.id.clone()),
                    ..Default::default()
                }
                .insert(&txn)
                .await?;
            }
            details = serde_json::json!({"records": input.record_ids});
            done.push(if sv {
                format!("En rättelse har antecknats bredvid {} poster. Den visas överallt där posterna visas.", input.record_ids.len())
            } else {
                format!("A correction has been noted beside {} records. It is shown wherever they are.", input.record_ids.len())
            });
            kept.push(if sv {
                "Själva posterna har inte ändrats: de är allmänna handlingar som ska bevaras som de kom in (tryckfrihetsförordningen 2 kap., arkivlagen).".into()
            } else {
                "The records themselves were not changed: they are public documents that must be kept as received (Freedom of the Press Act ch. 2, Archives Act).".into()
            });
        }
        RequestType::Restriction => {
            let rows = theirs()
                .filter(record::Column::RestrictedBy.is_null())
                .all(&txn)
                .await?;
            let mut tasks = 0;
            for rec in &rows {
                let mut a: record::ActiveModel = rec.clone().into();
                a.restricted_by = Set(Some(id));
                let rec = a.update(&txn).await?;
                if shown.contains(&rec.visibility.as_str())
                    && published.contains(&rec.kind.as_str())
                    && crate::consent::open_task(
                        &txn,
                        &rec,
                        rec.author_identity_id,
                        TaskReason::Restriction,
                        TaskAction::Hide,
                        &format!("request:{id}"),
                    )
                    .await?
                    .is_some()
                {
                    tasks += 1;
                }
            }
            details = serde_json::json!({"restricted": rows.len(), "unpublish_tasks": tasks});
            done.push(if sv {
                format!("Behandlingen av {} poster är begränsad: de visas inte i sökningar eller utlämnanden till andra, och det som syns på våra konton döljs.", rows.len())
            } else {
                format!("Processing of {} records is restricted: they are left out of searches and disclosures to others, and what shows on our accounts is hidden.", rows.len())
            });
            kept.push(if sv {
                "Posterna finns kvar i arkivet, eftersom kommunen är skyldig att bevara allmänna handlingar.".into()
            } else {
                "The records stay in the archive, as the municipality must keep public documents.".into()
            });
        }
        RequestType::Objection => {
            let rows = theirs()
                .filter(record::Column::Kind.is_in(published))
                .filter(record::Column::Visibility.is_in(shown))
                .all(&txn)
                .await?;
            let mut tasks = 0;
            for rec in &rows {
                if crate::consent::open_task(
                    &txn,
                    rec,
                    rec.author_identity_id,
                    TaskReason::Objection,
                    TaskAction::Remove,
                    &format!("request:{id}"),
                )
                .await?
                .is_some()
                {
                    tasks += 1;
                }
            }
            details = serde_json::json!({"unpublish_tasks": tasks});
            done.push(if sv {
                format!("Publiceringen upphör: {tasks} kommentarer, svar och reaktioner tas bort från våra konton.")
            } else {
                format!("Publication stops: {tasks} comments, replies and reactions are being removed from our accounts.")
            });
            kept.push(if sv {
                "Arkiveringen fortsätter: den är en rättslig förpliktelse (dataskyddsförordningen art. 6.1 c, arkivlagen) som en invändning inte gäller.".into()
            } else {
                "Archiving continues: it is a legal obligation (GDPR Art. 6(1)(c), the Archives Act), to which an objection does not apply.".into()
            });
        }
        RequestType::WithdrawConsent => {
            let mut tasks = 0;
            for identity_id in &identities {
                let w = crate::consent::withdraw_in(
                    &txn,
                    crate::consent::store::Withdraw {
                        identity_id: *identity_id,
                        channel_id: None,
                        note: None,
                        source: Some(format!("request:{id}")),
                    },
                    actor,
                )
                .await
                .map_err(|e| match e {
                    crate::consent::store::ConsentError::Db(e) => RequestError::Db(e),
                    other => RequestError::Illegal(other.to_string()),
                })?;
                tasks += w.tasks.len();
            }
            details = serde_json::json!({"unpublish_tasks": tasks});
            done.push(if sv {
                format!("Ditt samtycke till publicering är återkallat, och {tasks} kommentarer, svar och reaktioner tas bort från våra konton.")
            } else {
                format!("Your consent to publication is withdrawn, and {tasks} comments, replies and reactions are being removed from our accounts.")
            });
            kept.push(if sv {
                "Arkiveringen vilar inte på samtycke utan på en rättslig förpliktelse, och fortsätter.".into()
            } else {
                "Archiving does not rest on consent but on a legal obligation, and continues.".into()
            });
        }
        _ => {
            return Err(RequestError::Illegal(format!(
                "a request for {} is answered by `complete` (access, export) or a plan (erasure)",
                kind.as_str()
            )));
        }
    }
    let r = move_to(&txn, r, Action::Complete, |_| {}).await?;
    let summary = [done.join(" "), kept.join(" ")].join("\n\n");
    let link = format!("{}/requests/{id}", ctx.public_url.trim_end_matches('/'));
    send(
        &txn,
        &r,
        &letters::completion(lang, &r.reference, &summary, &link),
    )
    .await?;
    event(
        &txn,
        id,
        &actor.id,
        "carried_out",
        true,
        serde_json::json!({"done": done, "not_done": kept}),
    )
    .await?;
    log(&txn, actor, "request.carry_out", id, details).await?;
    txn.commit().await?;
    Ok(r)
}

/// Lifts a restriction the request put on the person's records; the person is told by the officer.
pub async fn lift_restriction(
    db: &DatabaseConnection,
    id: i64,
    actor: &Actor,
) -> Result<u64, RequestError> {
    use entities::record;
    use sea_orm::sea_query::Expr;
    let txn = db.begin().await?;
    let r = lock(&txn, id).await?;
    if r.request_type != RequestType::Restriction.as_str() {
        return Err(RequestError::Illegal(
            "only a restriction can be lifted".into(),
        ));
    }
    let lifted = record::Entity::update_many()
        .col_expr(
            record::Column::RestrictedBy,
            Expr::value(Option::<i64>::None),
        )
        .filter(record::Column::RestrictedBy.eq(id))
        .exec(&txn)
        .await?
        .rows_affected;
    event(
        &txn,
        id,
        &actor.id,
        "restriction_lifted",
        true,
        serde_json::json!({"records": lifted}),
    )
    .await?;
    log(
        &txn,
        actor,
        "request.lift_restriction",
        id,
        serde_json::json!({"records": lifted}),
    )
    .await?;
    txn.commit().await?;
    Ok(lifted)
}
