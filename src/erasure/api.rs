//! `/api/v1/requests/{id}/plan` and `/approve`: the officer computes an erasure plan, reviews it,
//! leaves items out with a reason, and approves it.
use super::store::{self, Approved, ErasureError, PlanView};
use crate::app::AppState;
use crate::auth::Role;
use crate::http::{AppError, JsonBody, TokenAuth};
use crate::requests::api::CaseError;
use chrono::{DateTime, NaiveDate, Utc};
use poem::web::Data;
use poem_openapi::{Object, OpenApi, Tags, param::Path, payload::Json};

#[derive(Tags)]
enum ApiTags {
    /// Erasure (Art. 17) that keeps public documents: plans, exclusions, approval.
    Erasure,
}

const OFFICERS: &[Role] = &[Role::Admin, Role::Officer];

/// An unpublish task opened for a publication item, as it stands now.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct ItemTask {
    pub id: i64,
    /// `open`, `done` or `not_possible`.
    pub status: String,
}

/// One decision of the plan.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct ErasureItemView {
    pub id: i64,
    /// `record`, `publication` (where a record shows on the channel), `profile`, `consent_events`,
    /// `package`, `block` (one of the person's accounts blocked on a channel) or `case_file`.
    pub kind: String,
    /// The record, identity, package, block or request the item is about.
    pub target_id: Option<i64>,
    /// What the item is, without its content: "Kommentar 2024-03-01".
    pub label: String,
    /// `retain`, `retain_under_hold`, `erase` or `unpublish`.
    pub decision: String,
    /// The machine-readable ground: `public_document`, `public_document_permanent`,
    /// `public_document_no_decision`, `sent_document`, `sent_document_permanent`,
    /// `sent_document_no_decision` (what the municipality sent the person),
    /// `registered_document`, `moderation_case`, `legal_hold`,
    /// `disposal_due`, `not_public_document`, `publication`, `profile_details`, `consent_events`,
    /// `earlier_package` or `case_file`.
    pub ground: String,
    /// The ground in the request's language, as the person will read it.
    pub sentence: String,
    /// The date the record may be disposed of from, or a legal hold's end.
    pub until: Option<NaiveDate>,
    /// The disposal decision or registration number the ground names.
    pub reference: Option<String>,
    /// For consent entries: how many.
    pub count: i64,
    /// Left out by an officer: nothing is done with it, and the person is told the reason.
    pub excluded: bool,
    pub exclusion_reason: Option<String>,
    /// After execution: `erased`, `kept`, `task_opened`, `task_already_open` or `excluded`.
    pub outcome: Option<String>,
    pub task: Option<ItemTask>,
}

/// How many items the plan erases, keeps, keeps under a hold, unpublishes, and leaves out.
#[derive(Object, Debug, Default)]
#[oai(skip_serializing_if_is_none)]
pub struct ErasureTotals {
    pub retain: i64,
    pub retain_under_hold: i64,
    pub erase: i64,
    pub unpublish: i64,
    pub excluded: i64,
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct ErasurePlanView {
    pub id: i64,
    pub request_id: i64,
    /// `proposed` (awaiting approval) or `executed`.
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub executed_at: Option<DateTime<Utc>>,
    pub executed_by: Option<String>,
    /// The plan this one replaced, when it was computed again.
    pub supersedes: Option<i64>,
    /// How this plan differs from the one it replaced, item by item.
    pub changes: Vec<String>,
    pub totals: ErasureTotals,
    pub items: Vec<ErasureItemView>,
}

/// What approval did.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct ErasureApproval {
    /// The executed plan, with each item's outcome.
    pub plan: ErasurePlanView,
    /// The archive had changed since the plan was computed: it was computed again before it was
    /// executed, and `changes` says how it differs.
    pub recomputed: bool,
    pub changes: Vec<String>,
    /// The plan had been executed before; nothing was done again.
    pub already_executed: bool,
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(example)]
pub struct Exclude {
    /// Why the item is left out; the person reads it in the reply.
    #[oai(validator(min_length = 1, max_length = 2000))]
    pub reason: String,
}

impl poem_openapi::types::Example for Exclude {
    fn example() -> Self {
        Exclude {
            reason:
                "Needed as evidence in the municipality's ongoing dispute, case KS 2026-000311."
                    .into(),
        }
    }
}

impl From<ErasureError> for CaseError {
    fn from(e: ErasureError) -> Self {
        match e {
            ErasureError::Request(e) => e.into(),
            ErasureError::NoPlan(id) => {
                AppError::NotFound(format!("an erasure plan for request {id}")).into()
            }
            ErasureError::NoItem(id) => AppError::NotFound(format!("plan item {id}")).into(),
        }
    }
}

pub fn plan_view(v: PlanView) -> ErasurePlanView {
    let mut totals = ErasureTotals::default();
    for (k, n) in store::totals(&v.items) {
        match k.as_str() {
            "retain" => totals.retain = n,
            "retain_under_hold" => totals.retain_under_hold = n,
            "erase" => totals.erase = n,
            "unpublish" => totals.unpublish = n,
            _ => totals.excluded = n,
        }
    }
    let tasks = v.tasks;
    ErasurePlanView {
        id: v.plan.id,
        request_id: v.plan.request_id,
        status: v.plan.status,
        created_at: v.plan.created_at,
        created_by: v.plan.created_by,
        executed_at: v.plan.executed_at,
        executed_by: v.plan.executed_by,
        supersedes: v.plan.supersedes,
        changes: serde_json::from_str(&v.plan.changes).unwrap_or_default(),
        totals,
        items: v
            .items
            .into_iter()
            .map(|i| ErasureItemView {
                task: i.task_id.and_then(|t| tasks.get(&t)).map(|t| ItemTask {
                    id: t.id,
                    status: t.status.clone(),
                }),
                id: i.id,
                kind: i.kind,
                target_id: i.target_id,
                label: i.label,
                decision: i.decision,
                ground: i.ground,
                sentence: i.sentence,
                until: i.until,
                reference: i.reference,
                count: i.count,
                excluded: i.excluded,
                exclusion_reason: i.exclusion_reason,
                outcome: i.outcome,
            })
            .collect(),
    }
}

pub struct ErasureApi;

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Erasure")]
impl ErasureApi {
    /// Compute an erasure plan
    ///
    /// Roles: `admin`, `officer`. For an erasure request in progress (or awaiting approval, to
    /// compute it again): one decision per item held about the person on their verified accounts —
    /// each archived record is retained (a public document, with the disposal decision and date
    /// that would allow its disposal), retained under a legal hold, or erased (its disposal is
    /// due, or it is not a public document under the policy); each place it still shows on the
    /// channel is unpublished; profile details, consent entries of erased records and earlier
    /// packages are erased; the case file is kept. Nothing changes until approval. The request
    /// awaits approval; exclusions of an earlier plan carry over.
    #[oai(
        path = "/requests/:id/plan",
        method = "post",
        operation_id = "plan_erasure"
    )]
    #[tracing::instrument(name = "plan_erasure", skip_all, fields(id = id.0))]
    async fn plan(
        &self,
        state: Data<&AppState>,
        auth: TokenAuth,
        id: Path<i64>,
    ) -> Result<Json<ErasurePlanView>, CaseError> {
        let actor = auth.0.require(OFFICERS)?.actor();
        let ctx = state.erasure_context();
        let today = ctx.requests.today(Utc::now());
        let v = store::plan(&state.db, &ctx, id.0, today, &actor).await?;
        Ok(Json(plan_view(v)))
    }

    /// Read the erasure plan
    ///
    /// Roles: `admin`, `officer`. The current plan, with totals per decision; once executed, each
    /// item's outcome and the state of its unpublish task.
    #[oai(
        path = "/requests/:id/plan",
        method = "get",
        operation_id = "get_erasure_plan"
    )]
    #[tracing::instrument(name = "get_erasure_plan", skip_all, fields(id = id.0))]
    async fn get(
        &self,
        state: Data<&AppState>,
        auth: TokenAuth,
        id: Path<i64>,
    ) -> Result<Json<ErasurePlanView>, CaseError> {
        auth.0.require(OFFICERS)?;
        Ok(Json(plan_view(store::view(&state.db, id.0).await?)))
    }

    /// Leave an item out of the plan
    ///
    /// Roles: `admin`, `officer`. An item to erase or unpublish is left as it is; the person is told
    /// the reason. Items already kept cannot be left out (409).
    #[oai(
        path = "/requests/:id/plan/items/:item_id/exclude",
        method = "post",
        operation_id = "exclude_erasure_item"
    )]
    #[tracing::instrument(name = "exclude_erasure_item", skip_all, fields(id = id.0, item = item_id.0))]
    async fn exclude(
        &self,
        state: Data<&AppState>,
        auth: TokenAuth,
        id: Path<i64>,
        item_id: Path<i64>,
        body: JsonBody<Exclude>,
    ) -> Result<Json<ErasurePlanView>, CaseError> {
        let actor = auth.0.require(OFFICERS)?.actor();
        let reason = body.0.reason.trim().to_owned();
        if reason.is_empty() {
            return Err(AppError::field("reason", "must not be blank").into());
        }
        let v = store::exclude(
            &state.db,
            &state.erasure_policy,
            id.0,
            item_id.0,
            Some(reason),
            &actor,
        )
        .await?;
        Ok(Json(plan_view(v)))
    }

    /// Take an item back into the plan
    ///
    /// Roles: `admin`, `officer`. Undoes an exclusion before approval.
    #[oai(
        path = "/requests/:id/plan/items/:item_id/include",
        method = "post",
        operation_id = "include_erasure_item"
    )]
    #[tracing::instrument(name = "include_erasure_item", skip_all, fields(id = id.0, item = item_id.0))]
    async fn include(
        &self,
        state: Data<&AppState>,
        auth: TokenAuth,
        id: Path<i64>,
        item_id: Path<i64>,
    ) -> Result<Json<ErasurePlanView>, CaseError> {
        let actor = auth.0.require(OFFICERS)?.actor();
        let v = store::exclude(
            &state.db,
            &state.erasure_policy,
            id.0,
            item_id.0,
            None,
            &actor,
        )
        .await?;
        Ok(Json(plan_view(v)))
    }

    /// Approve and execute the erasure plan
    ///
    /// Roles: `admin`, `officer`. In one transaction: erased records go with their versions,
    /// consent entries and notes; profile details are cleared; earlier packages are erased; unpublish
    /// tasks are opened; what was erased goes on the suppression list so a later import does not
    /// bring it back; the request is completed and the person mailed the outcome item by item. No
    /// retained record or version is touched. If the archive changed since the plan was computed,
    /// it is computed again first and `changes` says how. Approving again answers the executed
    /// plan and changes nothing.
    #[oai(
        path = "/requests/:id/approve",
        method = "post",
        operation_id = "approve_erasure_plan"
    )]
    #[tracing::instrument(name = "approve_erasure_plan", skip_all, fields(id = id.0))]
    async fn approve(
        &self,
        state: Data<&AppState>,
        auth: TokenAuth,
        id: Path<i64>,
    ) -> Result<Json<ErasureApproval>, CaseError> {
        let actor = auth.0.require(OFFICERS)?.actor();
        let ctx = state.erasure_context();
        let today = ctx.requests.today(Utc::now());
        let Approved {
            view,
            recomputed,
            changes,
            already_executed,
        } = store::approve(&state.db, &ctx, id.0, today, &actor).await?;
        Ok(Json(ErasureApproval {
            plan: plan_view(view),
            recomputed,
            changes,
            already_executed,
        }))
    }
}
