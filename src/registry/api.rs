//! `/api/v1/records/{id}/moderation`, `/records/{id}/registration`, `/registrations`, `/blocks`.
use super::rules::{CommentRule, ModerationAction};
use super::store::{self, NewModeration, RegistryError};
use crate::app::AppState;
use crate::auth::Role;
use crate::http::{ApiError, AppError, JsonBody, TokenAuth};
use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::{
    ApiResponse, Enum, Object, OpenApi, Tags,
    param::{Path, Query},
    payload::Json,
};

#[derive(Tags)]
enum ApiTags {
    /// Moderation under the comment rules and the registry (diarium).
    Registry,
}

/// The comment rule broken.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
pub enum RuleName {
    Defamation,
    HateOrHarassment,
    UnlawfulViolenceOrPornography,
    IncitementToCrime,
    Copyright,
    Profanity,
    GdprViolation,
    ClassifiedInformation,
}

impl From<RuleName> for CommentRule {
    fn from(r: RuleName) -> Self {
        match r {
            RuleName::Defamation => CommentRule::Defamation,
            RuleName::HateOrHarassment => CommentRule::HateOrHarassment,
            RuleName::UnlawfulViolenceOrPornography => CommentRule::UnlawfulViolenceOrPornography,
            RuleName::IncitementToCrime => CommentRule::IncitementToCrime,
            RuleName::Copyright => CommentRule::Copyright,
            RuleName::Profanity => CommentRule::Profanity,
            RuleName::GdprViolation => CommentRule::GdprViolation,
            RuleName::ClassifiedInformation => CommentRule::ClassifiedInformation,
        }
    }
}

#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
pub enum ActionName {
    Hide,
    Remove,
    BlockAuthor,
    ReportToPolice,
}

impl From<ActionName> for ModerationAction {
    fn from(a: ActionName) -> Self {
        match a {
            ActionName::Hide => ModerationAction::Hide,
            ActionName::Remove => ModerationAction::Remove,
            ActionName::BlockAuthor => ModerationAction::BlockAuthor,
            ActionName::ReportToPolice => ModerationAction::ReportToPolice,
        }
    }
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(example)]
pub struct ModerateRecord {
    pub rule: RuleName,
    pub action: ActionName,
    #[oai(validator(max_length = 2000))]
    pub note: Option<String>,
}

impl poem_openapi::types::Example for ModerateRecord {
    fn example() -> Self {
        ModerateRecord {
            rule: RuleName::HateOrHarassment,
            action: ActionName::Remove,
            note: Some("Personal attack on another commenter".into()),
        }
    }
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct ModerationView {
    pub id: i64,
    pub record_id: i64,
    pub rule: String,
    pub action: String,
    pub note: Option<String>,
    pub registration_number: String,
    pub decided_by: String,
    pub decided_at: DateTime<Utc>,
}

impl From<entities::moderation::Model> for ModerationView {
    fn from(m: entities::moderation::Model) -> Self {
        ModerationView {
            id: m.id,
            record_id: m.record_id,
            rule: m.rule,
            action: m.action,
            note: m.note,
            registration_number: m.registration_number,
            decided_by: m.decided_by,
            decided_at: m.decided_at,
        }
    }
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct ModerationOutcome {
    pub moderation: ModerationView,
    /// The record's version count after the decision was added as a version.
    pub version_count: i32,
    /// True when the record is now restricted to officers (classified information).
    pub classified: bool,
    /// The task for the social-media team, when the item still shows on the platform.
    pub unpublish_task_id: Option<i64>,
    pub blocked_identity_id: Option<i64>,
}

#[derive(ApiResponse)]
enum ModerateResponse {
    /// The decision is recorded, the record registered and a version added.
    #[oai(status = 201)]
    Created(Json<ModerationOutcome>),
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(example)]
pub struct RegisterRecord {
    /// What the matter is about, for the diarium; no personal data needed.
    #[oai(validator(min_length = 1, max_length = 300))]
    pub title: String,
}

impl poem_openapi::types::Example for RegisterRecord {
    fn example() -> Self {
        RegisterRecord {
            title: "Question about a building permit".into(),
        }
    }
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct RegistrationView {
    pub id: i64,
    /// E.g. `KS 2026-000123`.
    pub number: String,
    pub series: String,
    pub year: i32,
    pub seq: i64,
    /// `rule_breaking`, `individual_matter` or `request`.
    pub reason: String,
    pub record_id: Option<i64>,
    pub request_id: Option<i64>,
    pub title: String,
    pub registered_at: DateTime<Utc>,
    pub registered_by: String,
}

impl From<entities::registration::Model> for RegistrationView {
    fn from(r: entities::registration::Model) -> Self {
        RegistrationView {
            id: r.id,
            number: r.number,
            series: r.series,
            year: r.year,
            seq: r.seq,
            reason: r.reason,
            record_id: r.record_id,
            request_id: r.request_id,
            title: r.title,
            registered_at: r.registered_at,
            registered_by: r.registered_by,
        }
    }
}

#[derive(ApiResponse)]
enum RegisterResponse {
    /// Registered; the registration is a new version of the record.
    #[oai(status = 201)]
    Created(Json<RegistrationView>),
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct RegistrationPage {
    pub registrations: Vec<RegistrationView>,
    /// Pass as `after` for the next page; absent on the last page.
    pub next_after: Option<i64>,
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct BlockView {
    pub id: i64,
    pub identity_id: i64,
    pub channel_id: i64,
    /// The moderation decision that blocked the person.
    pub moderation_id: Option<i64>,
    pub blocked_at: DateTime<Utc>,
    pub blocked_by: String,
}

fn registry_error(e: RegistryError) -> AppError {
    match e {
        RegistryError::NoRecord(id) => AppError::NotFound(format!("record {id}")),
        RegistryError::AlreadyRegistered(n) => {
            AppError::Conflict(format!("the record is registered already as {n}"))
        }
        RegistryError::Invalid { field, reason } => AppError::field(field, reason),
        RegistryError::Db(e) => e.into(),
    }
}

const READERS: &[Role] = &[Role::Admin, Role::Archivist, Role::Officer, Role::Auditor];

pub struct RegistryApi;

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Registry")]
impl RegistryApi {
    /// Moderate a record under the comment rules
    ///
    /// Roles: `admin`, `archivist`. The record is saved (the decision becomes a new version, nothing
    /// is overwritten), registered (a number is allocated unless it has one), and an unpublish task
    /// is opened while it still shows on the platform. `block_author` lists the author as blocked on
    /// the channel; `classified_information` restricts the record to officers.
    #[oai(
        path = "/records/:id/moderation",
        method = "post",
        operation_id = "moderate_record"
    )]
    #[tracing::instrument(name = "moderate_record", skip_all, fields(record = id.0))]
    async fn moderate(
        &self,
        state: Data<&AppState>,
        auth: TokenAuth,
        id: Path<i64>,
        body: JsonBody<ModerateRecord>,
    ) -> Result<ModerateResponse, ApiError> {
        let who = auth.0.require(&[Role::Admin, Role::Archivist])?.actor();
        let body = body.0;
        let done = store::moderate(
            &state.db,
            &state.numbering(),
            id.0,
            NewModeration {
                rule: body.rule.into(),
                action: body.action.into(),
                note: body.note.filter(|n| !n.trim().is_empty()),
            },
            &who,
        )
        .await
        .map_err(registry_error)?;
        Ok(ModerateResponse::Created(Json(ModerationOutcome {
            moderation: done.moderation.into(),
            version_count: done.record.version_count,
            classified: done.record.classified,
            unpublish_task_id: done.unpublish_task_id,
            blocked_identity_id: done.blocked_identity_id,
        })))
    }

    /// Register a record as an individual matter
    ///
    /// Roles: `admin`, `archivist`, `officer`. Allocates the next registration number of the
    /// configured series and year (gap-free), adds the registration as a new version of the record.
    /// A record registered already gets 409.
    #[oai(
        path = "/records/:id/registration",
        method = "post",
        operation_id = "register_record"
    )]
    #[tracing::instrument(name = "register_record", skip_all, fields(record = id.0))]
    async fn register(
        &self,
        state: Data<&AppState>,
        auth: TokenAuth,
        id: Path<i64>,
        body: JsonBody<RegisterRecord>,
    ) -> Result<RegisterResponse, ApiError> {
        let who = auth
            .0
            .require(&[Role::Admin, Role::Archivist, Role::Officer])?
            .actor();
        let title = body.0.title.trim().to_owned();
        if title.is_empty() {
            return Err(AppError::field("title", "must not be blank").into());
        }
        let reg = store::register_record(&state.db, &state.numbering(), id.0, title, &who)
            .await
            .map_err(registry_error)?;
        Ok(RegisterResponse::Created(Json(reg.into())))
    }

    /// List registrations
    ///
    /// Roles: `admin`, `archivist`, `officer`, `auditor`. In the order they were registered.
    #[oai(
        path = "/registrations",
        method = "get",
        operation_id = "list_registrations"
    )]
    #[tracing::instrument(name = "list_registrations", skip_all)]
    async fn registrations(
        &self,
        state: Data<&AppState>,
        auth: TokenAuth,
        year: Query<Option<i32>>,
        /// The last id of the previous page.
        after: Query<Option<i64>>,
        #[oai(validator(minimum(value = "1"), maximum(value = "1000")))] limit: Query<Option<u64>>,
    ) -> Result<Json<RegistrationPage>, ApiError> {
        auth.0.require(READERS)?;
        let limit = limit.0.unwrap_or(100);
        let rows = store::list_registrations(&state.db, year.0, after.0, limit)
            .await
            .map_err(AppError::from)?;
        let next_after = crate::http::next_after(&rows, limit, |r| r.id);
        Ok(Json(RegistrationPage {
            registrations: rows.into_iter().map(Into::into).collect(),
            next_after,
        }))
    }

    /// List moderation decisions of a record
    ///
    /// Roles: `admin`, `archivist`, `officer`, `auditor`. A record that is not held, or that is
    /// classified or restricted and the caller no officer, is a 404, as `GET /records/{id}`.
    #[oai(
        path = "/records/:id/moderation",
        method = "get",
        operation_id = "list_moderations"
    )]
    #[tracing::instrument(name = "list_moderations", skip_all, fields(record = id.0))]
    async fn moderations(
        &self,
        state: Data<&AppState>,
        auth: TokenAuth,
        id: Path<i64>,
    ) -> Result<Json<Vec<ModerationView>>, ApiError> {
        let who = auth.0.require(READERS)?;
        crate::archive::visible_record(&state.db, id.0, who).await?;
        let rows = store::moderations_of(&state.db, id.0)
            .await
            .map_err(AppError::from)?;
        Ok(Json(rows.into_iter().map(Into::into).collect()))
    }

    /// List blocked identities
    ///
    /// Roles: `admin`, `archivist`, `officer`, `auditor`. Who is blocked on which channel, and by
    /// which moderation decision.
    #[oai(path = "/blocks", method = "get", operation_id = "list_blocks")]
    #[tracing::instrument(name = "list_blocks", skip_all)]
    async fn blocks(
        &self,
        state: Data<&AppState>,
        auth: TokenAuth,
    ) -> Result<Json<Vec<BlockView>>, ApiError> {
        auth.0.require(READERS)?;
        let rows = store::list_blocks(&state.db)
            .await
            .map_err(AppError::from)?;
        Ok(Json(
            rows.into_iter()
                .map(|b| BlockView {
                    id: b.id,
                    identity_id: b.identity_id,
                    channel_id: b.channel_id,
                    moderation_id: b.moderation_id,
                    blocked_at: b.blocked_at,
                    blocked_by: b.blocked_by,
                })
                .collect(),
        ))
    }
}
