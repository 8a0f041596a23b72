//! `/api/v1/requests` and `/api/v1/queue`: intake (public), the citizen's calls with the status
//! token, and the officer's actions.
use super::rules::{ProofMethod, RequestType, Status};
use super::store::{self, NewIdentity, NewRequest, QueueFilter, RequestError, due_of};
use crate::app::AppState;
use crate::auth::Role;
use crate::http::auth::{CaseAuth, IntakeAuth, StatusTokenAuth};
use crate::http::{ApiError, AppError, FieldError, JsonBody, Problem, TokenAuth};
use crate::mail::rules::{Email, Language};
use chrono::{DateTime, NaiveDate, Utc};
use poem::http::StatusCode;
use poem::web::Data;
use poem_openapi::{
    ApiResponse, Enum, Object, OpenApi, Tags,
    param::{Path, Query},
    payload::{Attachment, AttachmentType, Json},
};

#[derive(Tags)]
enum ApiTags {
    /// Data-subject requests: intake, proof of identity, the officer's queue.
    Requests,
}

#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
pub enum RequestTypeName {
    Access,
    Export,
    Erasure,
    Rectification,
    Restriction,
    Objection,
    WithdrawConsent,
}

impl From<RequestTypeName> for RequestType {
    fn from(t: RequestTypeName) -> Self {
        match t {
            RequestTypeName::Access => RequestType::Access,
            RequestTypeName::Export => RequestType::Export,
            RequestTypeName::Erasure => RequestType::Erasure,
            RequestTypeName::Rectification => RequestType::Rectification,
            RequestTypeName::Restriction => RequestType::Restriction,
            RequestTypeName::Objection => RequestType::Objection,
            RequestTypeName::WithdrawConsent => RequestType::WithdrawConsent,
        }
    }
}

#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Default)]
#[oai(rename_all = "lowercase")]
pub enum LanguageName {
    #[default]
    Sv,
    En,
}

#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
pub enum StatusName {
    AwaitingVerification,
    Verified,
    InProgress,
    AwaitingApproval,
    Completed,
    Refused,
    Cancelled,
}

impl From<StatusName> for Status {
    fn from(s: StatusName) -> Self {
        match s {
            StatusName::AwaitingVerification => Status::AwaitingVerification,
            StatusName::Verified => Status::Verified,
            StatusName::InProgress => Status::InProgress,
            StatusName::AwaitingApproval => Status::AwaitingApproval,
            StatusName::Completed => Status::Completed,
            StatusName::Refused => Status::Refused,
            StatusName::Cancelled => Status::Cancelled,
        }
    }
}

/// An account the person says is theirs.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct NamedAccount {
    /// `facebook`, `instagram`, `messenger`, `x`, `linkedin`, `youtube` or `other`.
    pub platform: crate::archive::api::PlatformName,
    /// The platform's id, a profile link (`https://www.facebook.com/…`) or a username.
    #[oai(validator(min_length = 1, max_length = 300))]
    pub value: String,
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(example)]
pub struct SubmitRequest {
    #[oai(rename = "type")]
    pub request_type: RequestTypeName,
    /// Where the codes, the receipt and the answer are sent.
    pub email: String,
    /// `sv` (the default) or `en`: the language of every mail and page.
    pub language: Option<LanguageName>,
    #[oai(validator(min_items = 1, max_items = 10))]
    pub identities: Vec<NamedAccount>,
    /// For rectification: what is wrong and what is right.
    #[oai(validator(max_length = 5000))]
    pub message: Option<String>,
    /// Officers only: when a request by letter, phone or in person was received. The clock runs from it.
    pub received_at: Option<DateTime<Utc>>,
}

impl poem_openapi::types::Example for SubmitRequest {
    fn example() -> Self {
        SubmitRequest {
            request_type: RequestTypeName::Access,
            email: "anna.andersson@example.se".into(),
            language: Some(LanguageName::Sv),
            identities: vec![NamedAccount {
                platform: crate::archive::api::PlatformName::Facebook,
                value: "https://www.facebook.com/anna.andersson".into(),
            }],
            message: None,
            received_at: None,
        }
    }
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct Submitted {
    pub id: i64,
    /// `DSR-2026-000123`: quote it when you contact us.
    pub reference: String,
    pub status: String,
    /// The date the request must be answered by.
    pub due_at: NaiveDate,
    /// Authorises the citizen's calls on this request and no other. Shown once, and mailed.
    /// Absent when the request was a duplicate of an open one. Replaced, and the new one mailed to
    /// the address alone, by the first proof of the person (an officer's check, or a message from
    /// the account) while the address is not confirmed by its code.
    pub status_token: Option<String>,
    /// True when an open request with the same address, type and accounts existed: this one was
    /// added to it, and the person was told by mail.
    pub duplicate: bool,
}

#[derive(ApiResponse)]
enum SubmitResponse {
    /// Accepted: the receipt and a verification code are on their way by mail.
    #[oai(status = 202)]
    Accepted(Json<Submitted>),
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct NamedAccountView {
    pub id: i64,
    pub platform: String,
    pub value: String,
    /// The archive identity the account names, when it was found by id or profile link.
    pub identity_id: Option<i64>,
    /// How control of the account was proven: `platform_message:record:ID`, `officer:e_id`, …
    pub verified_by: Option<String>,
    pub verified_at: Option<DateTime<Utc>>,
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct PossibleMatch {
    pub id: i64,
    pub request_identity_id: i64,
    pub identity_id: i64,
    /// `possible`, `confirmed` or `rejected`.
    pub state: String,
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct HistoryEntry {
    pub at: DateTime<Utc>,
    /// `received`, `email_verified`, `account_verified`, `identity_verified`,
    /// `status_link_replaced`, `assigned`, `note`, `extended`, `refused`, `cancelled`, `completed`,
    /// `duplicate_received`, …
    pub kind: String,
    /// Who acted (`citizen`, `token:5`, `import`); shown to officers only.
    pub actor: Option<String>,
    pub details: serde_json::Value,
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct RequestView {
    pub id: i64,
    pub reference: String,
    #[oai(rename = "type")]
    pub request_type: String,
    pub status: String,
    pub language: String,
    pub received_at: DateTime<Utc>,
    /// One month from receipt, on a working day.
    pub due_at: NaiveDate,
    pub extended_due_at: Option<NaiveDate>,
    pub extension_reason: Option<String>,
    /// Days left to the (extended) due date; negative when overdue.
    pub days_left: i64,
    pub registration_number: Option<String>,
    pub email_verified: bool,
    /// Send this from the account you named, as a private message or a comment to our account,
    /// to prove that the account is yours.
    pub account_phrase: String,
    pub refusal_reason: Option<String>,
    pub identities: Vec<NamedAccountView>,
    /// Officers only: identities whose display name resembles a named account.
    pub possible_matches: Vec<PossibleMatch>,
    /// Officers see the whole history; the citizen sees the part about them.
    pub history: Vec<HistoryEntry>,
    /// Officers only.
    pub email: Option<String>,
    pub assignee: Option<String>,
    pub message: Option<String>,
    /// For an executed erasure: what was erased, what was kept on which ground until when, and
    /// what is being taken down on the platform, item by item. Empty otherwise.
    pub erasure_outcome: Vec<ErasureOutcomeItem>,
    /// For a completed request other than erasure, the answer as the person was told it: the
    /// officer's summary (access, export), or what was done and what was not and why (the other
    /// rights). Empty otherwise.
    pub answer: Vec<String>,
    /// Only in the answer to confirming the address by its code: the request's new status
    /// token, shown once (and its link mailed to the address). The token the code was confirmed
    /// with stops working: it was shown to whoever submitted, who need not be the address's
    /// holder.
    pub status_token: Option<String>,
}

/// One item of an executed erasure, as the person is told it.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct ErasureOutcomeItem {
    /// What the item is, without its content: "Kommentar 2024-03-01".
    pub label: String,
    /// `erase`, `retain`, `retain_under_hold` or `unpublish`.
    pub decision: String,
    /// The machine-readable ground (see the erasure plan).
    pub ground: String,
    /// The ground in the request's language.
    pub sentence: String,
    /// Kept until (or disposable from) this date, where there is one.
    pub until: Option<NaiveDate>,
    /// For a take-down on the platform: `open`, `done` or `not_possible`.
    pub task_status: Option<String>,
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct QueueRow {
    pub id: i64,
    pub reference: String,
    #[oai(rename = "type")]
    pub request_type: String,
    pub status: String,
    pub received_at: DateTime<Utc>,
    pub due_at: NaiveDate,
    pub days_left: i64,
    pub overdue: bool,
    pub assignee: Option<String>,
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct QueuePage {
    pub requests: Vec<QueueRow>,
    /// Pass as `after` for the next page; absent on the last page.
    pub next_after: Option<String>,
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(example)]
pub struct CarryOutBody {
    /// For a rectification: the records the correction concerns.
    #[oai(validator(max_items = 1000))]
    pub record_ids: Option<Vec<i64>>,
    /// For a rectification: what is wrong and what is right.
    #[oai(validator(max_length = 5000))]
    pub note: Option<String>,
}

impl poem_openapi::types::Example for CarryOutBody {
    fn example() -> Self {
        CarryOutBody {
            record_ids: Some(vec![42]),
            note: Some("The commenter's name is Anna Andersson, not Anna Andersen.".into()),
        }
    }
}

#[derive(ApiResponse)]
pub enum PackageDownload {
    /// The ZIP.
    #[oai(status = 200)]
    Ok(
        Attachment<poem::Body>,
        /// The SHA-256 of the whole file, as the audit log records it.
        #[oai(header = "X-Package-SHA256")]
        String,
    ),
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(example)]
pub struct VerifyCode {
    /// The code from the mail.
    #[oai(validator(min_length = 1, max_length = 32))]
    pub code: String,
}

impl poem_openapi::types::Example for VerifyCode {
    fn example() -> Self {
        VerifyCode {
            code: "48213907".into(),
        }
    }
}

#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
pub enum ProofMethodName {
    InPerson,
    EId,
    Letter,
    Other,
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(example)]
pub struct VerifyIdentity {
    pub method: ProofMethodName,
    #[oai(validator(max_length = 2000))]
    pub note: Option<String>,
    /// The named accounts (their `identities[].id` in the request) the proof shows to be the
    /// person's. Proof of who someone is does not show which accounts are theirs: name the ones
    /// the officer checked. Left out, every named account counts as verified.
    #[oai(validator(min_items = 1, max_items = 100))]
    pub accounts: Option<Vec<i64>>,
}

impl poem_openapi::types::Example for VerifyIdentity {
    fn example() -> Self {
        VerifyIdentity {
            method: ProofMethodName::EId,
            note: Some(
                "BankID at the contact centre; showed the Facebook profile on her phone".into(),
            ),
            accounts: Some(vec![41]),
        }
    }
}

impl poem_openapi::types::Example for Assign {
    fn example() -> Self {
        Assign {
            assignee: "dpo-anna".into(),
        }
    }
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(example)]
pub struct Assign {
    #[oai(validator(min_length = 1, max_length = 200))]
    pub assignee: String,
}

impl poem_openapi::types::Example for Note {
    fn example() -> Self {
        Note {
            text: "Called the person to ask which account they mean.".into(),
        }
    }
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(example)]
pub struct Note {
    #[oai(validator(min_length = 1, max_length = 5000))]
    pub text: String,
}

impl poem_openapi::types::Example for Refuse {
    fn example() -> Self {
        Refuse {
            reason: "The request is manifestly unfounded: it repeats request DSR-2026-000012, answered last week.".into(),
        }
    }
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(example)]
pub struct Refuse {
    /// Why, in words the person will read; the refusal mail adds their right to complain to IMY.
    #[oai(validator(min_length = 1, max_length = 5000))]
    pub reason: String,
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(example)]
pub struct Extend {
    /// 1 or 2; at most two months over the request's life.
    pub months: u32,
    #[oai(validator(min_length = 1, max_length = 5000))]
    pub reason: String,
}

impl poem_openapi::types::Example for Extend {
    fn example() -> Self {
        Extend {
            months: 1,
            reason: "The request covers several accounts and years of messages".into(),
        }
    }
}

impl poem_openapi::types::Example for Complete {
    fn example() -> Self {
        Complete {
            summary: "Your data is attached as a download; nothing else is held about you.".into(),
        }
    }
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(example)]
pub struct Complete {
    /// What was done, in words the person will read.
    #[oai(validator(min_length = 1, max_length = 5000))]
    pub summary: String,
}

/// The errors of the requests API: the common ones, and the code's and the rate limit's own.
#[derive(ApiResponse, Debug)]
#[oai(bad_request_handler = "bad_request")]
pub enum CaseError {
    /// The request is malformed, a field is invalid, or the code is wrong.
    #[oai(status = 400, content_type = "application/problem+json")]
    BadRequest(Json<Problem>),
    /// The bearer token is missing, wrong or revoked.
    #[oai(status = 401, content_type = "application/problem+json")]
    Unauthorized(Json<Problem>),
    /// The token's role is not admitted to this operation.
    #[oai(status = 403, content_type = "application/problem+json")]
    Forbidden(Json<Problem>),
    /// No such request, or not the one the status token belongs to.
    #[oai(status = 404, content_type = "application/problem+json")]
    NotFound(Json<Problem>),
    /// The request's status does not allow this, or the code's attempts are used up.
    #[oai(status = 409, content_type = "application/problem+json")]
    Conflict(Json<Problem>),
    /// The code has expired: ask for a new one.
    #[oai(status = 410, content_type = "application/problem+json")]
    Gone(Json<Problem>),
    /// The request body is larger than the configured limit.
    #[oai(status = 413, content_type = "application/problem+json")]
    PayloadTooLarge(Json<Problem>),
    /// The request body is not of a media type the operation takes (see its `Content-Type`).
    #[oai(status = 415, content_type = "application/problem+json")]
    UnsupportedMediaType(Json<Problem>),
    /// Too many calls from this address, or a new code asked for too soon.
    #[oai(status = 429, content_type = "application/problem+json")]
    TooManyRequests(
        Json<Problem>,
        /// Seconds to wait.
        #[oai(header = "Retry-After")]
        u64,
    ),
    /// An internal error; its cause is in the log under the request id.
    #[oai(status = 500, content_type = "application/problem+json")]
    Internal(Json<Problem>),
}

fn bad_request(err: poem::Error) -> CaseError {
    let problem = crate::http::problem::problem_from_poem_error(&err);
    match err.status().as_u16() {
        401 => CaseError::Unauthorized(Json(problem)),
        413 => CaseError::PayloadTooLarge(Json(problem)),
        415 => CaseError::UnsupportedMediaType(Json(problem)),
        _ => CaseError::BadRequest(Json(problem)),
    }
}

impl From<ApiError> for CaseError {
    fn from(e: ApiError) -> Self {
        match e {
            ApiError::BadRequest(p) => CaseError::BadRequest(p),
            ApiError::Unauthorized(p) => CaseError::Unauthorized(p),
            ApiError::Forbidden(p) => CaseError::Forbidden(p),
            ApiError::NotFound(p) => CaseError::NotFound(p),
            ApiError::Conflict(p) => CaseError::Conflict(p),
            ApiError::PayloadTooLarge(p) => CaseError::PayloadTooLarge(p),
            ApiError::UnsupportedMediaType(p) => CaseError::UnsupportedMediaType(p),
            ApiError::Internal(p) => CaseError::Internal(p),
        }
    }
}

impl From<AppError> for CaseError {
    fn from(e: AppError) -> Self {
        ApiError::from(e).into()
    }
}

fn typed(status: StatusCode, kind: &str, detail: String) -> Json<Problem> {
    let mut p = Problem::new(status, detail);
    p.kind = format!("https://insyn.example/problems/{kind}");
    Json(p)
}

impl From<RequestError> for CaseError {
    fn from(e: RequestError) -> Self {
        match e {
            RequestError::NotFound(id) => AppError::NotFound(format!("request {id}")).into(),
            RequestError::NoMatch(id, m) => {
                AppError::NotFound(format!("possible match {m} of request {id}")).into()
            }
            RequestError::Illegal(why) => {
                CaseError::Conflict(typed(StatusCode::CONFLICT, "illegal-transition", why))
            }
            RequestError::WrongCode(left) => {
                let mut p = Problem::validation(vec![FieldError {
                    field: "code".into(),
                    reason: format!("is wrong; {left} attempts left"),
                }]);
                p.kind = "https://insyn.example/problems/code-wrong".into();
                CaseError::BadRequest(Json(p))
            }
            RequestError::CodeExpired => CaseError::Gone(typed(
                StatusCode::GONE,
                "code-expired",
                "the code has expired; ask for a new one".into(),
            )),
            RequestError::CodeExhausted => CaseError::Conflict(typed(
                StatusCode::CONFLICT,
                "code-exhausted",
                "no attempts are left for this code; ask for a new one".into(),
            )),
            RequestError::CodeTooSoon(wait) => CaseError::TooManyRequests(
                typed(
                    StatusCode::TOO_MANY_REQUESTS,
                    "code-too-soon",
                    format!("wait {wait} seconds before asking for a new code"),
                ),
                wait as u64,
            ),
            RequestError::Invalid { field, reason } => AppError::field(&field, reason).into(),
            RequestError::Db(e) => AppError::from(e).into(),
        }
    }
}

impl From<crate::packages::store::DownloadError> for CaseError {
    fn from(e: crate::packages::store::DownloadError) -> Self {
        use crate::packages::store::DownloadError as D;
        let (status, kind, detail) = match e {
            D::None => return AppError::NotFound("a package".into()).into(),
            D::Db(e) => return AppError::from(e).into(),
            D::File(e) => return AppError::Internal(e.into()).into(),
            D::NotReady => (
                StatusCode::CONFLICT,
                "package-building",
                "the package is being built; you will be mailed when it is ready",
            ),
            D::Failed => (
                StatusCode::CONFLICT,
                "package-failed",
                "the package could not be built yet; it is retried, and the municipality can see why",
            ),
            D::GaveUp => (
                StatusCode::CONFLICT,
                "package-failed",
                "the package could not be built; the municipality has been told and will answer you",
            ),
            D::Expired => (
                StatusCode::GONE,
                "package-expired",
                "the download link has expired; ask the municipality for a new package",
            ),
            D::Erased => (
                StatusCode::GONE,
                "package-erased",
                "the package was erased with the person's other data at their request",
            ),
        };
        let p = typed(status, kind, detail.into());
        if status == StatusCode::GONE {
            CaseError::Gone(p)
        } else {
            CaseError::Conflict(p)
        }
    }
}

fn limit(state: &AppState, req: &poem::Request) -> Result<(), CaseError> {
    state.limiter.check(state.client(req)).map_err(|wait| {
        CaseError::TooManyRequests(
            typed(
                StatusCode::TOO_MANY_REQUESTS,
                "rate-limited",
                format!("too many requests from this address; try again in {wait} seconds"),
            ),
            wait,
        )
    })
}

const OFFICERS: &[Role] = &[Role::Admin, Role::Officer];

fn citizen_actor() -> crate::audit::Actor {
    crate::audit::Actor {
        id: "citizen".into(),
        role: "citizen".into(),
    }
}

/// The caller may act on request `id`: staff with one of `roles`, or its own citizen.
fn caller(
    auth: &CaseAuth,
    id: i64,
    roles: &[Role],
) -> Result<(crate::audit::Actor, bool), CaseError> {
    match auth {
        CaseAuth::Staff(t) => Ok((t.0.require(roles)?.actor(), true)),
        CaseAuth::Citizen(c) if c.0.request_id == id => Ok((citizen_actor(), false)),
        // Another request's token learns nothing, not even that this one exists.
        CaseAuth::Citizen(_) => Err(AppError::NotFound(format!("request {id}")).into()),
    }
}

fn citizen(auth: &StatusTokenAuth, id: i64) -> Result<crate::audit::Actor, CaseError> {
    if auth.0.request_id != id {
        return Err(AppError::NotFound(format!("request {id}")).into());
    }
    Ok(citizen_actor())
}

/// A request as the API shows it: to staff in full, to its citizen their part.
pub async fn view(state: &AppState, id: i64, staff: bool) -> Result<RequestView, CaseError> {
    let d = store::detail(&state.db, id)
        .await
        .map_err(AppError::from)?
        .ok_or_else(|| AppError::NotFound(format!("request {id}")))?;
    let r = d.request;
    let today = state.request_context().today(Utc::now());
    let erasure_outcome = if r.request_type == RequestType::Erasure.as_str() {
        crate::erasure::outcome(
            &state.db,
            &state.erasure_context(),
            r.id,
            store::language_of(&r),
        )
        .await
        .map_err(AppError::from)?
        .into_iter()
        .map(|t| ErasureOutcomeItem {
            label: t.label,
            decision: t.decision,
            ground: t.ground,
            sentence: t.sentence,
            until: t.until,
            task_status: t.task_status,
        })
        .collect()
    } else {
        vec![]
    };
    let due = due_of(&r);
    // The last answer given: a request is completed once, but its history is read newest last.
    let answer = d
        .events
        .iter()
        .rev()
        .find(|e| e.kind == "completed" || e.kind == "carried_out")
        .map(|e| {
            let details: serde_json::Value = serde_json::from_str(&e.details).unwrap_or_default();
            let lines = |key: &str| -> Vec<String> {
                details[key]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|l| l.as_str().map(str::to_owned))
                    .collect()
            };
            match details["summary"].as_str() {
                Some(summary) => vec![summary.to_owned()],
                None => [lines("done"), lines("not_done")].concat(),
            }
        })
        .unwrap_or_default();
    Ok(RequestView {
        id: r.id,
        reference: r.reference,
        request_type: r.request_type,
        status: r.status,
        language: r.language,
        received_at: r.received_at,
        due_at: r.due_at,
        extended_due_at: r.extended_due_at,
        extension_reason: r.extension_reason,
        days_left: super::clock::days_left(today, due),
        registration_number: r.registration_number,
        email_verified: r.email_verified_at.is_some(),
        account_phrase: r.account_phrase,
        refusal_reason: r.refusal_reason,
        identities: d
            .identities
            .into_iter()
            .map(|i| NamedAccountView {
                id: i.id,
                platform: i.platform,
                value: i.value,
                identity_id: if staff { i.identity_id } else { None },
                verified_by: i.verified_by,
                verified_at: i.verified_at,
            })
            .collect(),
        possible_matches: if staff {
            d.matches
                .into_iter()
                .map(|m| PossibleMatch {
                    id: m.id,
                    request_identity_id: m.request_identity_id,
                    identity_id: m.identity_id,
                    state: m.state,
                })
                .collect()
        } else {
            vec![]
        },
        history: d
            .events
            .into_iter()
            .filter(|e| staff || e.public)
            .map(|e| HistoryEntry {
                at: e.at,
                kind: e.kind,
                actor: staff.then_some(e.actor),
                details: if staff {
                    serde_json::from_str(&e.details).unwrap_or_default()
                } else {
                    serde_json::json!({})
                },
            })
            .collect(),
        email: staff.then_some(r.email),
        assignee: if staff { r.assignee } else { None },
        message: r.message,
        erasure_outcome,
        answer,
        status_token: None,
    })
}

/// Checks a submission as the API and the pages take it: every field at fault is named. Only staff
/// may say when a letter was received.
pub fn new_request(b: SubmitRequest, staff: bool) -> Result<NewRequest, AppError> {
    let mut errors = vec![];
    let email = Email::parse(&b.email).map_err(|why| FieldError {
        field: "email".into(),
        reason: why.into(),
    });
    if let Err(e) = &email {
        errors.push(e.clone());
    }
    if b.received_at.is_some() && !staff {
        errors.push(FieldError {
            field: "received_at".into(),
            reason: "only an officer registering a request may set it".into(),
        });
    }
    if b.received_at.is_some_and(|r| r > Utc::now()) {
        errors.push(FieldError {
            field: "received_at".into(),
            reason: "must not be in the future".into(),
        });
    }
    for (i, a) in b.identities.iter().enumerate() {
        if a.value.trim().is_empty() {
            errors.push(FieldError {
                field: format!("identities/{i}/value"),
                reason: "must not be blank".into(),
            });
        }
    }
    let Ok(email) = email else {
        return Err(AppError::Validation(errors));
    };
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    Ok(NewRequest {
        request_type: b.request_type.into(),
        email,
        language: match b.language.unwrap_or_default() {
            LanguageName::Sv => Language::Sv,
            LanguageName::En => Language::En,
        },
        identities: b
            .identities
            .into_iter()
            .map(|a| NewIdentity {
                platform: crate::archive::rules::Platform::from(a.platform)
                    .as_str()
                    .to_owned(),
                value: a.value,
            })
            .collect(),
        message: b.message.filter(|m| !m.trim().is_empty()),
        received_at: b.received_at,
    })
}

pub struct RequestsApi;

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Requests")]
impl RequestsApi {
    /// Submit a request
    ///
    /// Roles: none (public, rate-limited per client address); `admin` or `officer` to register a
    /// request received by letter, phone or in person with `received_at` (a bearer token that is not
    /// valid is a 401, never a public submission). Answers 202 with the
    /// reference, the due date and the status token (shown once, and mailed). A request with the same
    /// address, type and accounts as an open one is added to it instead (`duplicate: true`).
    #[oai(path = "/requests", method = "post", operation_id = "submit_request")]
    #[tracing::instrument(name = "submit_request", skip_all)]
    async fn submit(
        &self,
        state: Data<&AppState>,
        req: &poem::Request,
        auth: IntakeAuth,
        body: JsonBody<SubmitRequest>,
    ) -> Result<SubmitResponse, CaseError> {
        let actor = match &auth {
            IntakeAuth::Staff(t) => t.0.require(OFFICERS)?.actor(),
            // A token that does not check out is not the public's way in: an officer whose
            // token was revoked must hear so, not have the request taken in as anyone's.
            IntakeAuth::Anonymous
                if req
                    .headers()
                    .contains_key(poem::http::header::AUTHORIZATION) =>
            {
                return Err(AppError::Unauthorized("the bearer token is not valid").into());
            }
            IntakeAuth::Anonymous => {
                limit(&state, req)?;
                citizen_actor()
            }
        };
        let new = new_request(body.0, matches!(auth, IntakeAuth::Staff(_)))?;
        let submitted = state.intakes.submit(new, &actor).await?;
        let r = submitted.request;
        Ok(SubmitResponse::Accepted(Json(Submitted {
            id: r.id,
            due_at: due_of(&r),
            reference: r.reference,
            status: r.status,
            status_token: submitted.status_token,
            duplicate: submitted.duplicate,
        })))
    }

    /// Get a request
    ///
    /// Roles: `admin`, `officer`, `auditor` (the full history, identities and possible matches); or the
    /// request's status token (the citizen's part). Another request's token gets 404.
    #[oai(path = "/requests/:id", method = "get", operation_id = "get_request")]
    #[tracing::instrument(name = "get_request", skip_all, fields(id = id.0))]
    async fn get(
        &self,
        state: Data<&AppState>,
        auth: CaseAuth,
        id: Path<i64>,
    ) -> Result<Json<RequestView>, CaseError> {
        let (_, staff) = caller(&auth, id.0, &[Role::Admin, Role::Officer, Role::Auditor])?;
        Ok(Json(view(&state, id.0, staff).await?))
    }

    /// Confirm the email address with the mailed code
    ///
    /// Roles: the request's status token. A wrong code is 400 (`code-wrong`, attempts left), an
    /// expired one 410 (`code-expired`), one whose five attempts are used up 409 (`code-exhausted`).
    /// Once confirmed the request has a new status token, in the answer (and its link mailed to
    /// the address): the one used here stops working, since whoever submitted saw it.
    #[oai(
        path = "/requests/:id/verify",
        method = "post",
        operation_id = "verify_request_email"
    )]
    #[tracing::instrument(name = "verify_request_email", skip_all, fields(id = id.0))]
    async fn verify(
        &self,
        state: Data<&AppState>,
        req: &poem::Request,
        auth: StatusTokenAuth,
        id: Path<i64>,
        body: JsonBody<VerifyCode>,
    ) -> Result<Json<RequestView>, CaseError> {
        let actor = citizen(&auth, id.0)?;
        limit(&state, req)?;
        let confirmed = store::verify_code(
            &state.db,
            &state.request_context(),
            id.0,
            &body.code,
            &actor,
        )
        .await?;
        let mut answer = view(&state, id.0, false).await?;
        answer.status_token = Some(confirmed.status_token);
        Ok(Json(answer))
    }

    /// Send a new code
    ///
    /// Roles: the request's status token. One a minute (429 with Retry-After), five over the request's life.
    #[oai(
        path = "/requests/:id/verification-code",
        method = "post",
        operation_id = "resend_request_code"
    )]
    #[tracing::instrument(name = "resend_request_code", skip_all, fields(id = id.0))]
    async fn resend(
        &self,
        state: Data<&AppState>,
        req: &poem::Request,
        auth: StatusTokenAuth,
        id: Path<i64>,
    ) -> Result<Json<RequestView>, CaseError> {
        let actor = citizen(&auth, id.0)?;
        limit(&state, req)?;
        store::resend_code(&state.db, &state.request_context(), id.0, &actor).await?;
        Ok(Json(view(&state, id.0, false).await?))
    }

    /// Cancel a request
    ///
    /// Roles: the request's status token, while the request is not yet in progress (else 409).
    #[oai(
        path = "/requests/:id/cancel",
        method = "post",
        operation_id = "cancel_request"
    )]
    #[tracing::instrument(name = "cancel_request", skip_all, fields(id = id.0))]
    async fn cancel(
        &self,
        state: Data<&AppState>,
        auth: StatusTokenAuth,
        id: Path<i64>,
    ) -> Result<Json<RequestView>, CaseError> {
        let actor = citizen(&auth, id.0)?;
        store::cancel(&state.db, id.0, &actor).await?;
        Ok(Json(view(&state, id.0, false).await?))
    }

    /// Verify the person's identity
    ///
    /// Roles: `admin`, `officer`. For proof given outside the system (in person, e-legitimation,
    /// letter): the named accounts in `accounts` (or, without it, every named account) count as
    /// verified, and the request moves to `verified`. An id in `accounts` that is not one of the
    /// request's named accounts is a 400. While the email address is not confirmed by its code, the
    /// first proof that verifies an account replaces the status token and mails the new link to the
    /// address alone: a token given at submission stops working (401), so that whoever filed the
    /// request in the person's name, with the person's address, cannot follow it on the person's
    /// proof.
    #[oai(
        path = "/requests/:id/verify-identity",
        method = "post",
        operation_id = "verify_request_identity"
    )]
    #[tracing::instrument(name = "verify_request_identity", skip_all, fields(id = id.0))]
    async fn verify_identity(
        &self,
        state: Data<&AppState>,
        auth: TokenAuth,
        id: Path<i64>,
        body: JsonBody<VerifyIdentity>,
    ) -> Result<Json<RequestView>, CaseError> {
        let actor = auth.0.require(OFFICERS)?.actor();
        let b = body.0;
        let method = match b.method {
            ProofMethodName::InPerson => ProofMethod::InPerson,
            ProofMethodName::EId => ProofMethod::EId,
            ProofMethodName::Letter => ProofMethod::Letter,
            ProofMethodName::Other => ProofMethod::Other,
        };
        store::verify_identity(
            &state.db,
            &state.request_context(),
            id.0,
            method,
            b.note,
            b.accounts,
            &actor,
        )
        .await?;
        Ok(Json(view(&state, id.0, true).await?))
    }

    /// Assign a request
    ///
    /// Roles: `admin`, `officer`. A verified request moves to `in_progress`.
    #[oai(
        path = "/requests/:id/assign",
        method = "post",
        operation_id = "assign_request"
    )]
    #[tracing::instrument(name = "assign_request", skip_all, fields(id = id.0))]
    async fn assign(
        &self,
        state: Data<&AppState>,
        auth: TokenAuth,
        id: Path<i64>,
        body: JsonBody<Assign>,
    ) -> Result<Json<RequestView>, CaseError> {
        let actor = auth.0.require(OFFICERS)?.actor();
        store::assign(&state.db, id.0, body.0.assignee.trim().to_owned(), &actor).await?;
        Ok(Json(view(&state, id.0, true).await?))
    }

    /// Add a note to a request
    ///
    /// Roles: `admin`, `officer`. Notes are in the officer's history only.
    #[oai(
        path = "/requests/:id/notes",
        method = "post",
        operation_id = "add_request_note"
    )]
    #[tracing::instrument(name = "add_request_note", skip_all, fields(id = id.0))]
    async fn note(
        &self,
        state: Data<&AppState>,
        auth: TokenAuth,
        id: Path<i64>,
        body: JsonBody<Note>,
    ) -> Result<Json<RequestView>, CaseError> {
        let actor = auth.0.require(OFFICERS)?.actor();
        store::note(&state.db, id.0, body.0.text, &actor).await?;
        Ok(Json(view(&state, id.0, true).await?))
    }

    /// Refuse a request
    ///
    /// Roles: `admin`, `officer`. The reason is mailed with the right to complain to IMY or go to
    /// court (Art. 12(4)).
    #[oai(
        path = "/requests/:id/refuse",
        method = "post",
        operation_id = "refuse_request"
    )]
    #[tracing::instrument(name = "refuse_request", skip_all, fields(id = id.0))]
    async fn refuse(
        &self,
        state: Data<&AppState>,
        auth: TokenAuth,
        id: Path<i64>,
        body: JsonBody<Refuse>,
    ) -> Result<Json<RequestView>, CaseError> {
        let actor = auth.0.require(OFFICERS)?.actor();
        let reason = body.0.reason.trim().to_owned();
        if reason.is_empty() {
            return Err(AppError::field("reason", "must not be blank").into());
        }
        store::refuse(&state.db, id.0, reason, &actor).await?;
        Ok(Json(view(&state, id.0, true).await?))
    }

    /// Extend the deadline
    ///
    /// Roles: `admin`, `officer`. By one or two months, at most two over the request's life, and only
    /// before the original due date (Art. 12(3)); the person is mailed the new date and the reason.
    #[oai(
        path = "/requests/:id/extend",
        method = "post",
        operation_id = "extend_request"
    )]
    #[tracing::instrument(name = "extend_request", skip_all, fields(id = id.0))]
    async fn extend(
        &self,
        state: Data<&AppState>,
        auth: TokenAuth,
        id: Path<i64>,
        body: JsonBody<Extend>,
    ) -> Result<Json<RequestView>, CaseError> {
        let actor = auth.0.require(OFFICERS)?.actor();
        let b = body.0;
        if !(1..=2).contains(&b.months) {
            return Err(AppError::field("months", "must be 1 or 2").into());
        }
        let reason = b.reason.trim().to_owned();
        if reason.is_empty() {
            return Err(AppError::field("reason", "must not be blank").into());
        }
        store::extend(
            &state.db,
            &state.request_context(),
            id.0,
            b.months,
            reason,
            &actor,
        )
        .await?;
        Ok(Json(view(&state, id.0, true).await?))
    }

    /// Complete a request
    ///
    /// Roles: `admin`, `officer`. Answers an access or export request: from `in_progress` or
    /// `awaiting_approval`, once an account it names is verified; the package is built and the
    /// person is mailed the summary and what comes next. Any other request is answered by what is
    /// done about it (an erasure by its plan, the other rights by `carry-out`): 409 here.
    #[oai(
        path = "/requests/:id/complete",
        method = "post",
        operation_id = "complete_request"
    )]
    #[tracing::instrument(name = "complete_request", skip_all, fields(id = id.0))]
    async fn complete(
        &self,
        state: Data<&AppState>,
        auth: TokenAuth,
        id: Path<i64>,
        body: JsonBody<Complete>,
    ) -> Result<Json<RequestView>, CaseError> {
        let actor = auth.0.require(OFFICERS)?.actor();
        store::complete(
            &state.db,
            &state.request_context(),
            id.0,
            body.0.summary,
            &actor,
        )
        .await?;
        Ok(Json(view(&state, id.0, true).await?))
    }

    /// Confirm a possible match
    ///
    /// Roles: `admin`, `officer`. The identity matched by display name is the person's.
    #[oai(
        path = "/requests/:id/matches/:match_id/confirm",
        method = "post",
        operation_id = "confirm_request_match"
    )]
    #[tracing::instrument(name = "confirm_request_match", skip_all, fields(id = id.0))]
    async fn confirm(
        &self,
        state: Data<&AppState>,
        auth: TokenAuth,
        id: Path<i64>,
        match_id: Path<i64>,
    ) -> Result<Json<RequestView>, CaseError> {
        let actor = auth.0.require(OFFICERS)?.actor();
        store::decide_match(&state.db, id.0, match_id.0, true, &actor).await?;
        Ok(Json(view(&state, id.0, true).await?))
    }

    /// Reject a possible match
    ///
    /// Roles: `admin`, `officer`. The identity matched by display name is someone else's.
    #[oai(
        path = "/requests/:id/matches/:match_id/reject",
        method = "post",
        operation_id = "reject_request_match"
    )]
    #[tracing::instrument(name = "reject_request_match", skip_all, fields(id = id.0))]
    async fn reject(
        &self,
        state: Data<&AppState>,
        auth: TokenAuth,
        id: Path<i64>,
        match_id: Path<i64>,
    ) -> Result<Json<RequestView>, CaseError> {
        let actor = auth.0.require(OFFICERS)?.actor();
        store::decide_match(&state.db, id.0, match_id.0, false, &actor).await?;
        Ok(Json(view(&state, id.0, true).await?))
    }

    /// Carry out a rectification, restriction, objection or consent withdrawal
    ///
    /// Roles: `admin`, `officer`. On a request in progress, on the accounts the person proved theirs:
    /// a rectification notes the correction beside the named records (they never change); a
    /// restriction flags the person's records (left out of listings and packages, hidden on the
    /// channel by unpublish tasks); an objection stops publication (unpublish tasks); a consent
    /// withdrawal is written to the ledger. Archiving continues in every case. The request is
    /// completed and the person mailed what was done and what was not, and why.
    #[oai(
        path = "/requests/:id/carry-out",
        method = "post",
        operation_id = "carry_out_request"
    )]
    #[tracing::instrument(name = "carry_out_request", skip_all, fields(id = id.0))]
    async fn carry_out(
        &self,
        state: Data<&AppState>,
        auth: TokenAuth,
        id: Path<i64>,
        body: JsonBody<CarryOutBody>,
    ) -> Result<Json<RequestView>, CaseError> {
        let actor = auth.0.require(OFFICERS)?.actor();
        let b = body.0;
        store::carry_out(
            &state.db,
            &state.request_context(),
            id.0,
            store::CarryOut {
                record_ids: b.record_ids.unwrap_or_default(),
                note: b.note,
            },
            &actor,
        )
        .await?;
        Ok(Json(view(&state, id.0, true).await?))
    }

    /// Lift a restriction
    ///
    /// Roles: `admin`, `officer`. The records a completed restriction request flagged are processed
    /// as before, and the person is told by mail (Art. 18(3)). A request that is not a completed
    /// restriction, or whose restriction was lifted before, is a 409.
    #[oai(
        path = "/requests/:id/lift-restriction",
        method = "post",
        operation_id = "lift_request_restriction"
    )]
    #[tracing::instrument(name = "lift_request_restriction", skip_all, fields(id = id.0))]
    async fn lift(
        &self,
        state: Data<&AppState>,
        auth: TokenAuth,
        id: Path<i64>,
    ) -> Result<Json<RequestView>, CaseError> {
        let actor = auth.0.require(OFFICERS)?.actor();
        store::lift_restriction(&state.db, id.0, &actor).await?;
        Ok(Json(view(&state, id.0, true).await?))
    }

    /// Download the request's package
    ///
    /// Roles: the request's status token, or `admin` and `officer`. The ZIP of a completed access or
    /// export request, streamed: `index.html`, `data.json` with its schema, `records.csv`,
    /// `consents.csv` and `manifest.json` (every file's SHA-256). 409 while it is being built, 410
    /// once the link has expired; every download is counted and audited.
    #[oai(
        path = "/requests/:id/package",
        method = "get",
        operation_id = "download_package"
    )]
    #[tracing::instrument(name = "download_package", skip_all, fields(id = id.0))]
    async fn package(
        &self,
        state: Data<&AppState>,
        auth: CaseAuth,
        id: Path<i64>,
    ) -> Result<PackageDownload, CaseError> {
        let (actor, _) = caller(&auth, id.0, OFFICERS)?;
        let storage = state.package_storage();
        use crate::packages::store::{DownloadError, open_download};
        let (p, file) = open_download(&state.db, &storage, id.0, &actor)
            .await
            .map_err(|e| match e {
                DownloadError::None => {
                    AppError::NotFound(format!("a package for request {}", id.0)).into()
                }
                other => CaseError::from(other),
            })?;
        let body = crate::http::file_body(file)
            .await
            .map_err(|e| AppError::Internal(e.into()))?;
        let name = format!("{}-{}.zip", p.kind, id.0);
        Ok(PackageDownload::Ok(
            Attachment::new(body)
                .filename(name)
                .attachment_type(AttachmentType::Attachment),
            p.sha256.unwrap_or_default(),
        ))
    }

    /// The officer's queue
    ///
    /// Roles: `admin`, `officer`, `auditor`. Open requests, earliest due first, with days left;
    /// filter by status, type, assignee, overdue and due date.
    #[oai(path = "/queue", method = "get", operation_id = "request_queue")]
    #[tracing::instrument(name = "request_queue", skip_all)]
    #[allow(clippy::too_many_arguments)]
    async fn queue(
        &self,
        state: Data<&AppState>,
        auth: TokenAuth,
        status: Query<Option<StatusName>>,
        #[oai(name = "type")] request_type: Query<Option<RequestTypeName>>,
        assignee: Query<Option<String>>,
        overdue: Query<Option<bool>>,
        /// Only requests due before this date.
        due_before: Query<Option<NaiveDate>>,
        /// `next_after` of the previous page.
        after: Query<Option<String>>,
        #[oai(validator(minimum(value = "1"), maximum(value = "1000")))] limit: Query<Option<u64>>,
    ) -> Result<Json<QueuePage>, CaseError> {
        auth.0
            .require(&[Role::Admin, Role::Officer, Role::Auditor])?;
        let limit = limit.0.unwrap_or(100);
        let today = state.request_context().today(Utc::now());
        let after = match after.0.as_deref() {
            None => None,
            Some(a) => Some(
                a.split_once('.')
                    .and_then(|(d, i)| Some((d.parse().ok()?, i.parse().ok()?)))
                    .ok_or_else(|| {
                        AppError::field("after", "must be a next_after value such as 2026-12-28.15")
                    })?,
            ),
        };
        let rows = store::queue(
            &state.db,
            &QueueFilter {
                status: status.0.map(Into::into),
                request_type: request_type.0.map(Into::into),
                assignee: assignee.0,
                overdue: overdue.0,
                due_before: due_before.0,
                today,
                after,
                limit,
            },
        )
        .await
        .map_err(AppError::from)?;
        let next_after = (rows.len() as u64 == limit)
            .then(|| rows.last().map(|r| format!("{}.{}", due_of(r), r.id)))
            .flatten();
        Ok(Json(QueuePage {
            requests: rows
                .into_iter()
                .map(|r| {
                    let due = due_of(&r);
                    let days = super::clock::days_left(today, due);
                    QueueRow {
                        id: r.id,
                        reference: r.reference,
                        request_type: r.request_type,
                        status: r.status,
                        received_at: r.received_at,
                        due_at: due,
                        days_left: days,
                        overdue: days < 0,
                        assignee: r.assignee,
                    }
                })
                .collect(),
            next_after,
        }))
    }
}
