//! `/api/v1/disposal-decisions`, `/api/v1/legal-holds`, `/api/v1/disposals`.
use super::rules::{DisposalRule, HoldScope, Keep};
use super::store::{self, NewDecision, NewHold, RetentionError};
use crate::app::AppState;
use crate::archive::api::KindName;
use crate::auth::Role;
use crate::http::{ApiError, AppError, FieldError, JsonBody, TokenAuth};
use chrono::{DateTime, NaiveDate, Utc};
use poem::web::Data;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi, Tags, param::Query, payload::Json};

#[derive(Tags)]
enum ApiTags {
    /// Disposal decisions, legal holds and disposal runs.
    Retention,
}

#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
pub enum DirectionName {
    Received,
    DrawnUp,
}

/// One rule of a decision: every condition given must hold for it to cover a record.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct DisposalRuleBody {
    pub kind: Option<KindName>,
    pub direction: Option<DirectionName>,
    pub channel_id: Option<i64>,
    /// Only registered records (`true`) or only unregistered ones (`false`).
    pub registered: Option<bool>,
    /// How long the records are kept, from the platform's time: an ISO 8601 period (`P3Y`,
    /// `P6M`, `P1Y6M`, `P90D`) or `never`.
    pub keep: String,
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(example)]
pub struct CreateDecision {
    /// The decision's reference, e.g. `KS 2024-0456`.
    #[oai(validator(min_length = 1, max_length = 100))]
    pub reference: String,
    #[oai(validator(min_length = 1, max_length = 300))]
    pub title: String,
    pub decided_on: NaiveDate,
    /// Read in order: the first rule that covers a record decides its retention under this decision.
    #[oai(validator(min_items = 1, max_items = 100))]
    pub rules: Vec<DisposalRuleBody>,
}

impl poem_openapi::types::Example for CreateDecision {
    fn example() -> Self {
        CreateDecision {
            reference: "KS 2024-0456".into(),
            title: "Gallring av reaktioner och kommentarer i sociala medier".into(),
            decided_on: NaiveDate::from_ymd_opt(2024, 5, 1).unwrap_or_default(),
            rules: vec![
                DisposalRuleBody {
                    kind: Some(KindName::Reaction),
                    direction: None,
                    channel_id: None,
                    registered: None,
                    keep: "P1Y".into(),
                },
                DisposalRuleBody {
                    kind: None,
                    direction: Some(DirectionName::Received),
                    channel_id: None,
                    registered: Some(false),
                    keep: "P3Y".into(),
                },
            ],
        }
    }
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct DecisionView {
    pub id: i64,
    pub reference: String,
    pub title: String,
    pub decided_on: NaiveDate,
    pub rules: Vec<DisposalRuleBody>,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
}

fn kind_name(s: &str) -> Option<KindName> {
    Some(match s {
        "post" => KindName::Post,
        "comment" => KindName::Comment,
        "reply" => KindName::Reply,
        "reaction" => KindName::Reaction,
        "message" => KindName::Message,
        _ => return None,
    })
}

impl From<entities::disposal_decision::Model> for DecisionView {
    fn from(d: entities::disposal_decision::Model) -> Self {
        let rules: Vec<DisposalRule> = serde_json::from_str(&d.rules).unwrap_or_default();
        DecisionView {
            id: d.id,
            reference: d.reference,
            title: d.title,
            decided_on: d.decided_on,
            rules: rules
                .into_iter()
                .map(|r| DisposalRuleBody {
                    kind: r.kind.as_deref().and_then(kind_name),
                    direction: match r.direction.as_deref() {
                        Some("received") => Some(DirectionName::Received),
                        Some("drawn_up") => Some(DirectionName::DrawnUp),
                        _ => None,
                    },
                    channel_id: r.channel_id,
                    registered: r.registered,
                    keep: r.keep,
                })
                .collect(),
            created_at: d.created_at,
            created_by: d.created_by,
        }
    }
}

#[derive(ApiResponse)]
enum DecisionCreated {
    /// The decision is recorded; records it covers show it as their retention.
    #[oai(status = 201)]
    Created(Json<DecisionView>),
}

#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
pub enum HoldScopeName {
    Records,
    Identity,
    Channel,
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(example)]
pub struct CreateHold {
    #[oai(validator(min_length = 1, max_length = 2000))]
    pub reason: String,
    /// `records` (give `record_ids`), `identity` (give `identity_id`) or `channel` (give `channel_id`).
    pub scope: HoldScopeName,
    #[oai(validator(max_items = 10000))]
    pub record_ids: Option<Vec<i64>>,
    pub identity_id: Option<i64>,
    pub channel_id: Option<i64>,
    pub from: NaiveDate,
    /// The last day the hold holds; without it, until further notice.
    pub until: Option<NaiveDate>,
}

impl poem_openapi::types::Example for CreateHold {
    fn example() -> Self {
        CreateHold {
            reason: "Police investigation of a threat, case 5000-K123456-26".into(),
            scope: HoldScopeName::Identity,
            record_ids: None,
            identity_id: Some(42),
            channel_id: None,
            from: NaiveDate::from_ymd_opt(2026, 11, 1).unwrap_or_default(),
            until: Some(NaiveDate::from_ymd_opt(2027, 11, 1).unwrap_or_default()),
        }
    }
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct HoldView {
    pub id: i64,
    pub reason: String,
    pub scope: String,
    pub record_ids: Option<Vec<i64>>,
    pub identity_id: Option<i64>,
    pub channel_id: Option<i64>,
    pub from: NaiveDate,
    pub until: Option<NaiveDate>,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
}

impl From<entities::legal_hold::Model> for HoldView {
    fn from(h: entities::legal_hold::Model) -> Self {
        HoldView {
            id: h.id,
            reason: h.reason,
            scope: h.scope,
            record_ids: h
                .record_ids
                .as_deref()
                .and_then(|s| serde_json::from_str(s).ok()),
            identity_id: h.identity_id,
            channel_id: h.channel_id,
            from: h.holds_from,
            until: h.holds_until,
            created_at: h.created_at,
            created_by: h.created_by,
        }
    }
}

#[derive(ApiResponse)]
enum HoldCreated {
    /// The hold is in force from its `from` date: nothing in its scope is disposed of or erased.
    #[oai(status = 201)]
    Created(Json<HoldView>),
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct DisposedUnder {
    /// The disposal decision's reference.
    pub decision: String,
    pub count: u64,
    pub record_ids: Vec<i64>,
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct DisposalReport {
    /// False for a dry run: nothing was deleted.
    pub executed: bool,
    pub today: NaiveDate,
    /// Records looked at.
    pub checked: u64,
    /// Records disposed of (or that would be, on a dry run).
    pub disposed: u64,
    pub by_decision: Vec<DisposedUnder>,
}

impl From<store::DisposalRun> for DisposalReport {
    fn from(r: store::DisposalRun) -> Self {
        DisposalReport {
            executed: r.executed,
            today: r.today.unwrap_or_default(),
            checked: r.checked,
            disposed: r.disposed() as u64,
            by_decision: r
                .by_decision
                .into_iter()
                .map(|(decision, ids)| DisposedUnder {
                    decision,
                    count: ids.len() as u64,
                    record_ids: ids,
                })
                .collect(),
        }
    }
}

fn retention_error(e: RetentionError) -> AppError {
    match e {
        RetentionError::DecisionExists(r) => {
            AppError::Conflict(format!("a disposal decision {r} exists already"))
        }
        RetentionError::Invalid { field, reason } => AppError::field(&field, reason),
        RetentionError::Db(e) => e.into(),
    }
}

/// Today where the municipality is; the disposal date is a calendar date.
/// Today in the municipality's time zone.
pub fn today(tz: chrono_tz::Tz) -> NaiveDate {
    Utc::now().with_timezone(&tz).date_naive()
}

const READERS: &[Role] = &[Role::Admin, Role::Archivist, Role::Officer, Role::Auditor];

pub struct RetentionApi;

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Retention")]
impl RetentionApi {
    /// Record a disposal decision
    ///
    /// Roles: `admin`, `archivist`. A gallringsbeslut: which records it covers and how long they
    /// are kept. Records no decision covers are kept; when several cover a record, the one that keeps
    /// it longest governs.
    #[oai(
        path = "/disposal-decisions",
        method = "post",
        operation_id = "create_disposal_decision"
    )]
    #[tracing::instrument(name = "create_disposal_decision", skip_all)]
    async fn create_decision(
        &self,
        state: Data<&AppState>,
        auth: TokenAuth,
        body: JsonBody<CreateDecision>,
    ) -> Result<DecisionCreated, ApiError> {
        let who = auth.0.require(&[Role::Admin, Role::Archivist])?.actor();
        let body = body.0;
        let mut errors = vec![];
        for (i, r) in body.rules.iter().enumerate() {
            if let Err(why) = Keep::parse(&r.keep) {
                errors.push(FieldError {
                    field: format!("rules/{i}/keep"),
                    reason: why,
                });
            }
        }
        if body.reference.trim().is_empty() {
            errors.push(FieldError {
                field: "reference".into(),
                reason: "must not be blank".into(),
            });
        }
        if !errors.is_empty() {
            return Err(AppError::Validation(errors).into());
        }
        let rules = body
            .rules
            .into_iter()
            .map(|r| DisposalRule {
                kind: r.kind.map(|k| k.as_str().to_owned()),
                direction: r.direction.map(|d| {
                    match d {
                        DirectionName::Received => "received",
                        DirectionName::DrawnUp => "drawn_up",
                    }
                    .to_owned()
                }),
                channel_id: r.channel_id,
                registered: r.registered,
                keep: r.keep,
            })
            .collect();
        let created = store::create_decision(
            &state.db,
            NewDecision {
                reference: body.reference.trim().to_owned(),
                title: body.title,
                decided_on: body.decided_on,
                rules,
            },
            &who,
        )
        .await
        .map_err(retention_error)?;
        Ok(DecisionCreated::Created(Json(created.into())))
    }

    /// List disposal decisions
    ///
    /// Roles: `admin`, `archivist`, `officer`, `auditor`.
    #[oai(
        path = "/disposal-decisions",
        method = "get",
        operation_id = "list_disposal_decisions"
    )]
    #[tracing::instrument(name = "list_disposal_decisions", skip_all)]
    async fn decisions(
        &self,
        state: Data<&AppState>,
        auth: TokenAuth,
    ) -> Result<Json<Vec<DecisionView>>, ApiError> {
        auth.0.require(READERS)?;
        let rows = store::list_decisions(&state.db)
            .await
            .map_err(AppError::from)?;
        Ok(Json(rows.into_iter().map(Into::into).collect()))
    }

    /// Place a legal hold
    ///
    /// Roles: `admin`, `officer`, `archivist`. While it holds (from `from` to `until`, inclusive),
    /// nothing in its scope is disposed of or erased.
    #[oai(
        path = "/legal-holds",
        method = "post",
        operation_id = "create_legal_hold"
    )]
    #[tracing::instrument(name = "create_legal_hold", skip_all)]
    async fn create_hold(
        &self,
        state: Data<&AppState>,
        auth: TokenAuth,
        body: JsonBody<CreateHold>,
    ) -> Result<HoldCreated, ApiError> {
        let who = auth
            .0
            .require(&[Role::Admin, Role::Officer, Role::Archivist])?
            .actor();
        let b = body.0;
        let given = [
            ("record_ids", b.record_ids.is_some()),
            ("identity_id", b.identity_id.is_some()),
            ("channel_id", b.channel_id.is_some()),
        ];
        let wanted = match b.scope {
            HoldScopeName::Records => "record_ids",
            HoldScopeName::Identity => "identity_id",
            HoldScopeName::Channel => "channel_id",
        };
        let mut errors = vec![];
        for (field, present) in given {
            if field == wanted && !present {
                errors.push(FieldError {
                    field: field.into(),
                    reason: "is required for this scope".into(),
                });
            }
            if field != wanted && present {
                errors.push(FieldError {
                    field: field.into(),
                    reason: format!("does not belong to the scope `{wanted}` names"),
                });
            }
        }
        if b.until.is_some_and(|u| u < b.from) {
            errors.push(FieldError {
                field: "until".into(),
                reason: "must not be before `from`".into(),
            });
        }
        if b.reason.trim().is_empty() {
            errors.push(FieldError {
                field: "reason".into(),
                reason: "must not be blank".into(),
            });
        }
        if !errors.is_empty() {
            return Err(AppError::Validation(errors).into());
        }
        let scope = match b.scope {
            HoldScopeName::Records => HoldScope::Records(b.record_ids.unwrap_or_default()),
            HoldScopeName::Identity => HoldScope::Identity(b.identity_id.unwrap_or_default()),
            HoldScopeName::Channel => HoldScope::Channel(b.channel_id.unwrap_or_default()),
        };
        let created = store::create_hold(
            &state.db,
            NewHold {
                reason: b.reason,
                scope,
                from: b.from,
                until: b.until,
            },
            &who,
        )
        .await
        .map_err(retention_error)?;
        Ok(HoldCreated::Created(Json(created.into())))
    }

    /// List legal holds
    ///
    /// Roles: `admin`, `archivist`, `officer`, `auditor`.
    #[oai(
        path = "/legal-holds",
        method = "get",
        operation_id = "list_legal_holds"
    )]
    #[tracing::instrument(name = "list_legal_holds", skip_all)]
    async fn holds(
        &self,
        state: Data<&AppState>,
        auth: TokenAuth,
    ) -> Result<Json<Vec<HoldView>>, ApiError> {
        auth.0.require(READERS)?;
        let rows = store::list_holds(&state.db).await.map_err(AppError::from)?;
        Ok(Json(rows.into_iter().map(Into::into).collect()))
    }

    /// Run the disposal
    ///
    /// Roles: `admin`, `archivist` (an executing run); `officer` and `auditor` may dry-run. Finds the
    /// records whose disposal date under their decision has passed, that no legal hold covers and that
    /// are not registered. `dry_run=true` (the default) lists them; `dry_run=false` deletes them in one
    /// transaction and writes the ids per decision to the audit log.
    #[oai(path = "/disposals", method = "post", operation_id = "run_disposal")]
    #[tracing::instrument(name = "run_disposal", skip_all)]
    async fn dispose(
        &self,
        state: Data<&AppState>,
        auth: TokenAuth,
        /// List only (the default), or delete.
        dry_run: Query<Option<bool>>,
    ) -> Result<Json<DisposalReport>, ApiError> {
        let dry = dry_run.0.unwrap_or(true);
        let who = if dry {
            auth.0.require(READERS)?.actor()
        } else {
            auth.0.require(&[Role::Admin, Role::Archivist])?.actor()
        };
        let tz = state.time_zone();
        let run = store::dispose(&state.db, today(tz), tz, !dry, &who)
            .await
            .map_err(AppError::from)?;
        Ok(Json(run.into()))
    }
}
