//! `/api/v1/consents` and `/api/v1/unpublish-tasks`: the interaction-consent ledger, withdrawal, and
//! what the social-media team must take down.
use super::rules::{Purpose, TaskStatus};
use super::store::{self, ConsentError, Withdraw};
use crate::app::AppState;
use crate::auth::Role;
use crate::http::{ApiError, AppError, JsonBody, TokenAuth};
use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::{
    Enum, Object, OpenApi, Tags,
    param::{Path, Query},
    payload::Json,
};

#[derive(Tags)]
enum ApiTags {
    /// The interaction-consent ledger and unpublish tasks.
    Consent,
}

/// A purpose of processing and its legal basis, kept apart: archiving is not consent-based.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct PurposeView {
    /// `archiving` or `publication_on_channel`.
    pub purpose: String,
    /// `legal_obligation` or `consent`.
    pub legal_basis: String,
    /// Where the basis comes from.
    pub source: String,
    /// Whether withdrawing consent stops it: true for publication only.
    pub withdrawable: bool,
}

fn purposes() -> Vec<PurposeView> {
    Purpose::ALL
        .iter()
        .map(|p| PurposeView {
            purpose: p.as_str().to_owned(),
            legal_basis: p.legal_basis().as_str().to_owned(),
            source: p.source().to_owned(),
            withdrawable: p.withdrawable(),
        })
        .collect()
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct ConsentEventView {
    pub id: i64,
    pub identity_id: i64,
    pub channel_id: i64,
    /// The record whose interaction gave the consent; absent for a withdrawal.
    pub record_id: Option<i64>,
    /// `given` or `withdrawn`.
    pub event: String,
    /// `reaction`, `comment`, `reply` or `message`, for a given consent.
    pub interaction: Option<String>,
    /// Always `publication_on_channel`: consent covers publication, never archiving.
    pub purpose: String,
    /// When it was given (the platform's time of the interaction) or withdrawn.
    pub at: DateTime<Utc>,
    pub recorded_at: DateTime<Utc>,
    /// The social-media policy in force when it was given.
    pub policy_version: String,
    /// Who recorded a withdrawal (`token:5`, `request:12`).
    pub actor: Option<String>,
}

impl From<entities::consent_event::Model> for ConsentEventView {
    fn from(e: entities::consent_event::Model) -> Self {
        ConsentEventView {
            id: e.id,
            identity_id: e.identity_id,
            channel_id: e.channel_id,
            record_id: e.record_id,
            event: e.event,
            interaction: e.interaction,
            purpose: e.purpose,
            at: e.at,
            recorded_at: e.recorded_at,
            policy_version: e.policy_version,
            actor: e.actor,
        }
    }
}

/// Whether publication on a channel currently rests on consent.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct ChannelConsent {
    pub channel_id: i64,
    /// `given` when the latest event is a consent, `withdrawn` when it is a withdrawal.
    pub state: String,
    pub since: DateTime<Utc>,
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct ConsentLedger {
    pub identity_id: i64,
    /// The legal basis of each purpose.
    pub purposes: Vec<PurposeView>,
    /// Per channel, where consent stands now.
    pub channels: Vec<ChannelConsent>,
    /// Every event, oldest first.
    pub events: Vec<ConsentEventView>,
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(example)]
pub struct WithdrawConsent {
    pub identity_id: i64,
    /// One channel; without it, every channel the person interacted on.
    pub channel_id: Option<i64>,
    /// How the withdrawal reached the municipality, for the case file.
    #[oai(validator(max_length = 2000))]
    pub note: Option<String>,
}

impl poem_openapi::types::Example for WithdrawConsent {
    fn example() -> Self {
        WithdrawConsent {
            identity_id: 42,
            channel_id: Some(1),
            note: Some("Asked by phone to the contact centre".into()),
        }
    }
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct UnpublishTaskView {
    pub id: i64,
    /// The archived record; the archive keeps it whatever the task's outcome.
    pub record_id: Option<i64>,
    pub channel_id: i64,
    pub identity_id: Option<i64>,
    /// `consent_withdrawn`, `moderation`, `erasure` or `objection`.
    pub reason: String,
    /// `hide` or `remove`.
    pub action: String,
    /// Where to find the item on the platform. Empty, and `identity_id` absent, once the task is
    /// closed and its record erased: the task then keeps no trace of whom and what it took down.
    pub link: String,
    /// What opened the task (`consent_event:7`, `moderation:3`).
    pub source: Option<String>,
    /// `open`, `done` or `not_possible`.
    pub status: String,
    pub note: Option<String>,
    pub created_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    pub closed_by: Option<String>,
}

impl From<entities::unpublish_task::Model> for UnpublishTaskView {
    fn from(t: entities::unpublish_task::Model) -> Self {
        UnpublishTaskView {
            id: t.id,
            record_id: t.record_id,
            channel_id: t.channel_id,
            identity_id: t.identity_id,
            reason: t.reason,
            action: t.action,
            link: t.link,
            source: t.source,
            status: t.status,
            note: t.note,
            created_at: t.created_at,
            closed_at: t.closed_at,
            closed_by: t.closed_by,
        }
    }
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct WithdrawalView {
    pub events: Vec<ConsentEventView>,
    /// One task per place on the channel where the person's content still shows.
    pub unpublish_tasks: Vec<UnpublishTaskView>,
}

#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
pub enum TaskStatusName {
    Open,
    Done,
    NotPossible,
}

impl From<TaskStatusName> for TaskStatus {
    fn from(s: TaskStatusName) -> Self {
        match s {
            TaskStatusName::Open => TaskStatus::Open,
            TaskStatusName::Done => TaskStatus::Done,
            TaskStatusName::NotPossible => TaskStatus::NotPossible,
        }
    }
}

#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
pub enum ClosedStatus {
    Done,
    NotPossible,
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(example)]
pub struct CloseTask {
    /// `done`, or `not_possible` with the reason in `note`.
    pub status: ClosedStatus,
    #[oai(validator(max_length = 2000))]
    pub note: Option<String>,
}

impl poem_openapi::types::Example for CloseTask {
    fn example() -> Self {
        CloseTask {
            status: ClosedStatus::Done,
            note: None,
        }
    }
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct TaskPage {
    pub tasks: Vec<UnpublishTaskView>,
    /// Pass as `after` for the next page; absent on the last page.
    pub next_after: Option<i64>,
}

fn consent_error(e: ConsentError) -> AppError {
    match e {
        ConsentError::NoIdentity(id) => {
            AppError::field("identity_id", format!("there is no identity {id}"))
        }
        ConsentError::NoChannel(id) => {
            AppError::field("channel_id", format!("there is no channel {id}"))
        }
        ConsentError::NoTask(id) => AppError::NotFound(format!("unpublish task {id}")),
        ConsentError::Closed(status) => {
            AppError::Conflict(format!("the task is closed already as {status}"))
        }
        ConsentError::Db(e) => e.into(),
    }
}

const TEAM: &[Role] = &[Role::Admin, Role::Officer, Role::Archivist];

pub struct ConsentApi;

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Consent")]
impl ConsentApi {
    /// A person's consent ledger
    ///
    /// Roles: `admin`, `officer`, `archivist`, `auditor`. Every consent given by an interaction and
    /// every withdrawal, with the legal basis of each purpose: archiving rests on a legal obligation,
    /// publication on the channel on consent.
    #[oai(path = "/consents", method = "get", operation_id = "consent_ledger")]
    #[tracing::instrument(name = "consent_ledger", skip_all, fields(identity = identity.0))]
    async fn ledger(
        &self,
        state: Data<&AppState>,
        auth: TokenAuth,
        /// The identity whose ledger to show.
        identity: Query<i64>,
    ) -> Result<Json<ConsentLedger>, ApiError> {
        auth.0
            .require(&[Role::Admin, Role::Officer, Role::Archivist, Role::Auditor])?;
        let events = store::history(&state.db, identity.0)
            .await
            .map_err(AppError::from)?
            .ok_or_else(|| {
                AppError::field("identity", format!("there is no identity {}", identity.0))
            })?;
        let mut channels: Vec<ChannelConsent> = Vec::new();
        for e in &events {
            match channels.iter_mut().find(|c| c.channel_id == e.channel_id) {
                Some(c) => {
                    if c.state != e.event {
                        c.state = e.event.clone();
                        c.since = e.at;
                    }
                }
                None => channels.push(ChannelConsent {
                    channel_id: e.channel_id,
                    state: e.event.clone(),
                    since: e.at,
                }),
            }
        }
        Ok(Json(ConsentLedger {
            identity_id: identity.0,
            purposes: purposes(),
            channels,
            events: events.into_iter().map(Into::into).collect(),
        }))
    }

    /// Withdraw consent to publication
    ///
    /// Roles: `admin`, `officer`. Records the withdrawal (Art. 7(3)) and opens an unpublish task for
    /// each comment, reply and reaction of the person still shown on the channel. The archived
    /// records are not touched: archiving does not rest on consent.
    #[oai(
        path = "/consents/withdraw",
        method = "post",
        operation_id = "withdraw_consent"
    )]
    #[tracing::instrument(name = "withdraw_consent", skip_all)]
    async fn withdraw(
        &self,
        state: Data<&AppState>,
        auth: TokenAuth,
        body: JsonBody<WithdrawConsent>,
    ) -> Result<Json<WithdrawalView>, ApiError> {
        let who = auth.0.require(&[Role::Admin, Role::Officer])?.actor();
        let body = body.0;
        let w = store::withdraw(
            &state.db,
            Withdraw {
                identity_id: body.identity_id,
                channel_id: body.channel_id,
                note: body.note,
                source: None,
            },
            &who,
        )
        .await
        .map_err(consent_error)?;
        Ok(Json(WithdrawalView {
            events: w.events.into_iter().map(Into::into).collect(),
            unpublish_tasks: w.tasks.into_iter().map(Into::into).collect(),
        }))
    }

    /// List unpublish tasks
    ///
    /// Roles: `admin`, `officer`, `archivist`. What the social-media team must hide or remove on
    /// the platform, oldest first, paged by `after`.
    #[oai(
        path = "/unpublish-tasks",
        method = "get",
        operation_id = "list_unpublish_tasks"
    )]
    #[tracing::instrument(name = "list_unpublish_tasks", skip_all)]
    async fn tasks(
        &self,
        state: Data<&AppState>,
        auth: TokenAuth,
        status: Query<Option<TaskStatusName>>,
        /// The last id of the previous page.
        after: Query<Option<i64>>,
        #[oai(validator(minimum(value = "1"), maximum(value = "1000")))] limit: Query<Option<u64>>,
    ) -> Result<Json<TaskPage>, ApiError> {
        auth.0.require(TEAM)?;
        let limit = limit.0.unwrap_or(100);
        let rows = store::list_tasks(&state.db, status.0.map(Into::into), after.0, limit)
            .await
            .map_err(AppError::from)?;
        let next_after = crate::http::next_after(&rows, limit, |t| t.id);
        Ok(Json(TaskPage {
            tasks: rows.into_iter().map(Into::into).collect(),
            next_after,
        }))
    }

    /// Close an unpublish task
    ///
    /// Roles: `admin`, `officer`, `archivist`. `done` once the item is hidden or removed on the
    /// platform; `not_possible` with the reason in `note`. A closed task cannot be closed again (409).
    #[oai(
        path = "/unpublish-tasks/:id/close",
        method = "post",
        operation_id = "close_unpublish_task"
    )]
    #[tracing::instrument(name = "close_unpublish_task", skip_all, fields(id = id.0))]
    async fn close(
        &self,
        state: Data<&AppState>,
        auth: TokenAuth,
        id: Path<i64>,
        body: JsonBody<CloseTask>,
    ) -> Result<Json<UnpublishTaskView>, ApiError> {
        let who = auth.0.require(TEAM)?.actor();
        let body = body.0;
        let note = body.note.filter(|n| !n.trim().is_empty());
        let status = match body.status {
            ClosedStatus::Done => TaskStatus::Done,
            ClosedStatus::NotPossible => {
                if note.is_none() {
                    return Err(
                        AppError::field("note", "say why the item cannot be taken down").into(),
                    );
                }
                TaskStatus::NotPossible
            }
        };
        let task = store::close_task(&state.db, id.0, status, note, &who)
            .await
            .map_err(consent_error)?;
        Ok(Json(task.into()))
    }
}
