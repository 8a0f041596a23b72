//! The officer's pages, behind an officer's (or admin's) API token entered once at `/officer/login`.
//! The token opens a session kept on the server; the browser holds only the session's secret, in
//! an HttpOnly, SameSite=Strict cookie, which signing out, eight hours or revoking the token ends.
//! Every form carries a token derived from it (a second guard against cross-site posts).
use super::{Frame, Lang, message, message_in, render, see_other, state, words};
use crate::audit::Actor;
use crate::auth::Role;
use crate::consent::rules::TaskStatus;
use crate::erasure::store::{self as erasure, ErasureError};
use crate::requests::api::view;
use crate::requests::rules::{ProofMethod, RequestType, Status};
use crate::requests::store::{self as requests, QueueFilter, RequestError};
use poem::http::{StatusCode, header};
use poem::web::{Form, Path, Query};
use poem::{Request, Response, handler};
use sea_orm::EntityTrait;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use std::collections::HashMap;

const COOKIE: &str = "insyn_officer";

/// The signed-in officer: who acts, and the form token their pages carry.
struct Officer {
    actor: Actor,
    csrf: String,
}

fn csrf_of(secret: &str) -> String {
    hex::encode(&Sha256::digest(format!("insyn-csrf:{secret}").as_bytes())[..16])
}

fn cookie(req: &Request) -> Option<String> {
    super::cookie(req, COOKIE)
}

async fn officer(req: &Request) -> Option<Officer> {
    let secret = cookie(req)?;
    let t = crate::auth::store::session_token(&state(req).db, &secret)
        .await
        .ok()
        .flatten()?;
    let role: Role = t.role.parse().ok()?;
    if !matches!(role, Role::Admin | Role::Officer) {
        return None;
    }
    Some(Officer {
        actor: Actor {
            id: format!("token:{}", t.id),
            role: role.as_str().into(),
        },
        csrf: csrf_of(&secret),
    })
}

/// A page for the signed-in officer that only says what went wrong, with the way back.
fn officer_message(
    status: StatusCode,
    lang: Lang,
    o: &Officer,
    text: String,
    back: Option<String>,
) -> Response {
    message_in(
        status,
        frame(lang, lang.text("error_title", &[]), "/officer", o, None),
        text,
        back,
    )
}

/// A request, plan or action that is not there, with the way back.
fn missing(lang: Lang, o: &Officer, back: String) -> Response {
    officer_message(
        StatusCode::NOT_FOUND,
        lang,
        o,
        lang.text("officer_not_found", &[]),
        Some(back),
    )
}

fn to_login(lang: Lang) -> Response {
    see_other(&format!("/officer/login?lang={}", lang.code()))
}

/// The officer, or the answer to give instead: the login page, or 403 for a form without its token.
async fn signed_in(
    req: &Request,
    lang: Lang,
    form_csrf: Option<&str>,
) -> Result<Officer, Response> {
    let Some(o) = officer(req).await else {
        return Err(to_login(lang));
    };
    // Compared in constant time: it is a secret of the session's.
    // A form whose token is not the session's was opened in an earlier session (or made
    // elsewhere): the officer is told to open the page again, not that the key is wrong.
    if let Some(sent) = form_csrf
        && !crate::secret::same_secret(sent.as_bytes(), o.csrf.as_bytes())
    {
        return Err(officer_message(
            StatusCode::FORBIDDEN,
            lang,
            &o,
            lang.text("form_expired", &[]),
            Some(format!("/officer?lang={}", lang.code())),
        ));
    }
    Ok(o)
}

/// The signed-in officer, or (from the handler) the page to answer instead.
macro_rules! officer_or_answer {
    ($req:expr, $lang:expr, $csrf:expr) => {
        match signed_in($req, $lang, $csrf).await {
            Ok(o) => o,
            Err(r) => return r,
        }
    };
}

fn frame<'a>(
    lang: Lang,
    title: String,
    path: &'a str,
    o: &'a Officer,
    flash: Option<String>,
) -> Frame<'a> {
    Frame {
        lang,
        title,
        path,
        officer: Some(&o.csrf),
        flash,
    }
}

#[derive(Deserialize, Default)]
pub struct LangQuery {
    lang: Option<String>,
}

/// Where the officer's flash cookie is sent: every officer page.
const SCOPE: &str = "/officer";

/// "Klart." once an action just done, which [`done`] left for the page.
fn flash(req: &Request, lang: Lang) -> Option<String> {
    super::flash_word(req).map(|_| lang.text("done", &[]))
}

/// The page `r`, clearing the flash it has just shown.
fn shown(mut r: Response, flashed: bool) -> Response {
    if flashed {
        super::clear_flash(&mut r, SCOPE);
    }
    r
}

#[handler]
pub fn login_form(Query(q): Query<LangQuery>) -> Response {
    let lang = Lang::of(q.lang.as_deref());
    render(
        StatusCode::OK,
        "login.html",
        Frame {
            lang,
            title: lang.text("login_title", &[]),
            path: "/officer/login",
            officer: None,
            flash: None,
        },
        json!({}),
    )
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct LoginForm {
    token: String,
}

#[handler]
pub async fn login(
    req: &Request,
    Query(q): Query<LangQuery>,
    Form(f): Form<LoginForm>,
) -> Response {
    let lang = Lang::of(q.lang.as_deref());
    let st = state(req);
    if let Err(wait) = st.login_limiter.check(st.client(req)) {
        return message(
            StatusCode::TOO_MANY_REQUESTS,
            lang,
            "/officer/login",
            lang.text("rate_limited", &[("seconds", wait.to_string())]),
            None,
        );
    }
    let token = crate::auth::store::find_by_secret(&st.db, f.token.trim())
        .await
        .ok()
        .flatten()
        .filter(|t| {
            t.role
                .parse::<Role>()
                .is_ok_and(|r| matches!(r, Role::Admin | Role::Officer))
        });
    let Some(token) = token else {
        let mut errors = Map::new();
        errors.insert("token".into(), json!(lang.text("login_wrong", &[])));
        return render(
            StatusCode::UNAUTHORIZED,
            "login.html",
            Frame {
                lang,
                title: lang.text("login_title", &[]),
                path: "/officer/login",
                officer: None,
                flash: None,
            },
            json!({"errors": errors}),
        );
    };
    let session = match crate::auth::store::open_session(&st.db, &token).await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, token = token.id, "an officer's session could not be opened");
            return message(
                StatusCode::INTERNAL_SERVER_ERROR,
                lang,
                "/officer/login",
                lang.text("internal", &[]),
                None,
            );
        }
    };
    let secure = if st.settings.public_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    let mut r = see_other(&format!("/officer?lang={}", lang.code()));
    if let Ok(v) = poem::http::HeaderValue::from_str(&format!(
        "{COOKIE}={session}; Path=/officer; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
        crate::auth::store::SESSION_HOURS * 3600
    )) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

#[handler]
pub async fn logout(req: &Request, Query(q): Query<LangQuery>) -> Response {
    let lang = Lang::of(q.lang.as_deref());
    if let Some(secret) = cookie(req)
        && let Err(e) = crate::auth::store::close_session(&state(req).db, &secret).await
    {
        tracing::error!(error = %e, "an officer's session could not be closed");
    }
    let mut r = to_login(lang);
    r.headers_mut().insert(
        header::SET_COOKIE,
        poem::http::HeaderValue::from_static(
            "insyn_officer=; Path=/officer; HttpOnly; SameSite=Strict; Max-Age=0",
        ),
    );
    r
}

#[derive(Deserialize, Default)]
pub struct QueueQuery {
    lang: Option<String>,
    status: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    assignee: Option<String>,
    overdue: Option<String>,
    after: Option<String>,
}

const PAGE: u64 = 50;

#[handler]
pub async fn show_queue(req: &Request, Query(q): Query<QueueQuery>) -> Response {
    let lang = Lang::of(q.lang.as_deref());
    let o = officer_or_answer!(req, lang, None);
    queue_page(req, lang, &o, &q, StatusCode::OK, json!({})).await
}

#[derive(Deserialize, Default)]
pub struct FindQuery {
    lang: Option<String>,
    #[serde(default)]
    q: String,
}

/// Opens any request, closed ones too (the queue lists only open ones), by its reference
/// (`DSR-2026-000123`) or its number.
#[handler]
pub async fn find_request(req: &Request, Query(f): Query<FindQuery>) -> Response {
    let lang = Lang::of(f.lang.as_deref());
    let o = officer_or_answer!(req, lang, None);
    let st = state(req);
    let wanted = f.q.trim().trim_start_matches('#');
    let found = if wanted.is_empty() {
        Ok(None)
    } else if let Ok(id) = wanted.parse::<i64>() {
        entities::request::Entity::find_by_id(id).one(&st.db).await
    } else {
        requests::by_reference(&st.db, wanted).await
    };
    let (status, key) = match found {
        Ok(Some(r)) => {
            return see_other(&format!("/officer/requests/{}?lang={}", r.id, lang.code()));
        }
        Ok(None) if wanted.is_empty() => (StatusCode::BAD_REQUEST, "field_required"),
        Ok(None) => (StatusCode::NOT_FOUND, "find_none"),
        Err(e) => {
            tracing::error!(error = %e, "a request could not be looked up");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal")
        }
    };
    let errors = json!({"find": lang.text(key, &[("wanted", wanted.to_owned())])});
    let q = QueueQuery::default();
    queue_page(
        req,
        lang,
        &o,
        &q,
        status,
        json!({"errors": errors, "find": f.q}),
    )
    .await
}

/// The queue, filtered by `q`, with `extra` (a failed look-up's errors and input) for the page.
async fn queue_page(
    req: &Request,
    lang: Lang,
    o: &Officer,
    q: &QueueQuery,
    status: StatusCode,
    extra: Value,
) -> Response {
    let st = state(req);
    let ctx = st.request_context();
    let today = ctx.today(chrono::Utc::now());
    let nonempty = |s: &Option<String>| s.clone().filter(|s| !s.trim().is_empty());
    let after = q.after.as_deref().and_then(|a| {
        let (d, i) = a.split_once('_')?;
        Some((d.parse().ok()?, i.parse().ok()?))
    });
    let filter = QueueFilter {
        status: nonempty(&q.status).and_then(|s| Status::parse(&s)),
        request_type: nonempty(&q.kind).and_then(|s| RequestType::parse(&s)),
        assignee: nonempty(&q.assignee),
        overdue: q.overdue.as_deref().map(|o| o == "true"),
        due_before: None,
        today,
        after,
        limit: PAGE,
    };
    let rows = match requests::queue(&st.db, &filter).await {
        Ok(rows) => rows,
        Err(e) => {
            tracing::error!(error = %e, "the queue could not be read");
            return officer_message(
                StatusCode::INTERNAL_SERVER_ERROR,
                lang,
                o,
                lang.text("internal", &[]),
                None,
            );
        }
    };
    let next_url = (rows.len() as u64 == PAGE).then(|| {
        let last = rows
            .last()
            .map(|r| (requests::due_of(r), r.id))
            .unwrap_or((today, 0));
        let mut url = format!("/officer?lang={}&after={}_{}", lang.code(), last.0, last.1);
        for (k, v) in [
            ("status", &q.status),
            ("type", &q.kind),
            ("assignee", &q.assignee),
            ("overdue", &q.overdue),
        ] {
            if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
                url.push_str(&format!("&{k}={}", super::url_encode(v)));
            }
        }
        url
    });
    let rows: Vec<Value> = rows
        .iter()
        .map(|r| {
            let due = requests::due_of(r);
            let days = crate::requests::clock::days_left(today, due);
            json!({"id": r.id, "reference": r.reference, "type": r.request_type, "status": r.status,
                   "received_at": r.received_at.to_rfc3339(), "due_at": due.to_string(), "days_left": days,
                   "overdue": days < 0, "assignee": r.assignee})
        })
        .collect();
    let mut data = json!({
            "rows": rows,
            "tz": st.settings.time_zone,
            "next_url": next_url,
            "statuses": Status::ALL
                .iter()
                .filter(|s| s.is_open())
                .map(|s| s.as_str())
                .collect::<Vec<_>>(),
            "kinds": RequestType::ALL
                .iter()
                .map(|k| k.as_str())
                .collect::<Vec<_>>(),
            "filter": {"status": q.status, "type": q.kind, "assignee": q.assignee, "overdue": q.overdue.as_deref() == Some("true")},
    });
    if let (Some(data), Value::Object(extra)) = (data.as_object_mut(), extra) {
        data.extend(extra);
    }
    render(
        status,
        "queue.html",
        frame(lang, lang.text("queue_title", &[]), "/officer", o, None),
        data,
    )
}

async fn request_page(
    req: &Request,
    id: i64,
    lang: Lang,
    o: &Officer,
    status: StatusCode,
    flash: Option<String>,
    form: Value,
) -> Response {
    let st = state(req);
    let v = match view(st, id, true).await {
        Ok(v) => v,
        Err(_) => {
            return missing(lang, o, format!("/officer?lang={}", lang.code()));
        }
    };
    let open = Status::parse(&v.status).is_some_and(Status::is_open);
    let has_plan = erasure::view(&st.db, id).await.is_ok();
    // A carried-out restriction holds until it is lifted; the page offers to lift it then only.
    let restricted = v.request_type == RequestType::Restriction.as_str()
        && v.status == Status::Completed.as_str()
        && requests::restriction_holds(&st.db, id)
            .await
            .unwrap_or_else(|e| {
                tracing::warn!(error = %e, "could not tell whether a restriction holds");
                false
            });
    let title = format!("{} {}", lang.text("request_title", &[]), v.reference);
    let mut r = poem_openapi::types::ToJSON::to_json(&v).unwrap_or_default();
    name_actors(&st.db, lang, &mut r).await;
    words::name_accounts(lang, &mut r);
    let items = item_labels(&st.db, words::mentioned_items(&r)).await;
    words::tell_history(lang, &mut r, &items);
    render(
        status,
        "request.html",
        frame(lang, title, &format!("/officer/requests/{id}"), o, flash),
        json!({"r": r, "tz": st.settings.time_zone, "open": open, "has_plan": has_plan, "restricted": restricted, "errors": form["errors"], "values": form["values"]}),
    )
}

#[handler]
pub async fn show_request(
    req: &Request,
    Path(id): Path<i64>,
    Query(q): Query<LangQuery>,
) -> Response {
    let lang = Lang::of(q.lang.as_deref());
    let o = officer_or_answer!(req, lang, None);
    let said = flash(req, lang);
    let flashed = said.is_some();
    let page = request_page(
        req,
        id,
        lang,
        &o,
        StatusCode::OK,
        said,
        json!({"errors": {}, "values": {}}),
    )
    .await;
    shown(page, flashed)
}

/// Every field the action forms send; each action reads its own.
#[derive(Deserialize, Default, serde::Serialize)]
#[serde(default)]
pub struct ActionForm {
    csrf: String,
    method: String,
    note: String,
    assignee: String,
    months: String,
    reason: String,
    summary: String,
    text: String,
    status: String,
    record_ids: String,
    /// Set when the form lists the named accounts to verify, one `account_{id}` box each.
    choose_accounts: String,
    #[serde(flatten)]
    boxes: std::collections::BTreeMap<String, String>,
}

impl ActionForm {
    /// The named accounts ticked on the verify form; none when it listed none to choose from.
    fn accounts(&self) -> Option<Vec<i64>> {
        if self.choose_accounts.is_empty() {
            return None;
        }
        Some(
            self.boxes
                .keys()
                .filter_map(|k| k.strip_prefix("account_")?.parse().ok())
                .collect(),
        )
    }
}

fn done(req: &Request, path: &str, lang: Lang) -> Response {
    super::see_other_saying(
        &format!("{path}?lang={}", lang.code()),
        SCOPE,
        "done",
        state(req).settings.public_url.starts_with("https://"),
    )
}

/// Gives each history entry an `actor_name` the officer can read: the token's name for a staff
/// member (`token:12` says nothing), and words for the person, the import and the system's jobs.
async fn name_actors(db: &sea_orm::DatabaseConnection, lang: Lang, r: &mut Value) {
    use sea_orm::{ColumnTrait, QueryFilter};
    let Some(history) = r.get_mut("history").and_then(Value::as_array_mut) else {
        return;
    };
    let ids: Vec<i64> = history
        .iter()
        .filter_map(|h| h["actor"].as_str()?.strip_prefix("token:")?.parse().ok())
        .collect();
    let names: HashMap<i64, String> = if ids.is_empty() {
        HashMap::new()
    } else {
        match entities::api_token::Entity::find()
            .filter(entities::api_token::Column::Id.is_in(ids))
            .all(db)
            .await
        {
            Ok(tokens) => tokens.into_iter().map(|t| (t.id, t.name)).collect(),
            Err(e) => {
                tracing::warn!(error = %e, "could not name the history's actors");
                HashMap::new()
            }
        }
    };
    for h in history {
        let actor = h["actor"].as_str().unwrap_or_default().to_owned();
        let name = match actor.as_str() {
            "citizen" => lang.text("actor_citizen", &[]),
            "import" => lang.text("actor_import", &[]),
            a if a.starts_with("job:") || a == "cli" => lang.text("actor_system", &[]),
            a => a
                .strip_prefix("token:")
                .and_then(|id| id.parse().ok())
                .and_then(|id: i64| names.get(&id).cloned())
                .unwrap_or_else(|| a.to_owned()),
        };
        h["actor_name"] = Value::String(name);
    }
}

/// The labels of the erasure items `ids`, which the history names by id. The history is still
/// shown if they cannot be read: it then names them by number.
async fn item_labels(db: &sea_orm::DatabaseConnection, ids: Vec<i64>) -> HashMap<i64, String> {
    use sea_orm::{ColumnTrait, QueryFilter};
    if ids.is_empty() {
        return HashMap::new();
    }
    match entities::erasure_item::Entity::find()
        .filter(entities::erasure_item::Column::Id.is_in(ids))
        .all(db)
        .await
    {
        Ok(items) => items.into_iter().map(|i| (i.id, i.label)).collect(),
        Err(e) => {
            tracing::warn!(error = %e, "could not name the history's erasure items");
            HashMap::new()
        }
    }
}

/// What the officer is told of an action (`doing`, a text key) that failed, and the status of
/// the page. `status` is the request's status now, which a refusal on a Swedish page names. A
/// failure of the database is logged and told as an internal error, never shown.
fn told(lang: Lang, doing: &str, status: Option<&str>, e: RequestError) -> (StatusCode, String) {
    match e {
        RequestError::Invalid { reason, .. } => {
            (StatusCode::BAD_REQUEST, words::invalid(lang, &reason))
        }
        RequestError::NotFound(_) | RequestError::NoMatch(..) => {
            (StatusCode::NOT_FOUND, lang.text("officer_not_found", &[]))
        }
        RequestError::Db(e) => internal(lang, &e),
        RequestError::Illegal(why) => (
            StatusCode::CONFLICT,
            words::illegal(lang, words::Voice::Staff, doing, status, &why),
        ),
        other => (
            StatusCode::CONFLICT,
            lang.text("not_allowed", &[("reason", other.to_string())]),
        ),
    }
}

/// The request's status as stored now, for a refusal to name; none if it cannot be read.
async fn status_now(db: &sea_orm::DatabaseConnection, id: i64) -> Option<String> {
    entities::request::Entity::find_by_id(id)
        .one(db)
        .await
        .ok()
        .flatten()
        .map(|r| r.status)
}

fn internal(lang: Lang, e: &sea_orm::DbErr) -> (StatusCode, String) {
    tracing::error!(error = %e, "an officer action failed");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        lang.text("internal", &[]),
    )
}

/// A failed action, shown on the request page next to the form's field: `(field, doing)` names
/// the field and what failed (a text key, `doing_assign`).
async fn refused(
    req: &Request,
    id: i64,
    lang: Lang,
    o: &Officer,
    (field, doing): (&str, &str),
    e: RequestError,
    values: Value,
) -> Response {
    let now = status_now(&state(req).db, id).await;
    let (status, text) = told(lang, doing, now.as_deref(), e);
    let mut errors = Map::new();
    errors.insert(field.into(), json!(text));
    request_page(
        req,
        id,
        lang,
        o,
        status,
        None,
        json!({"errors": errors, "values": values}),
    )
    .await
}

#[handler]
pub async fn act(
    req: &Request,
    Path((id, action)): Path<(i64, String)>,
    Query(q): Query<LangQuery>,
    Form(f): Form<ActionForm>,
) -> Response {
    let lang = Lang::of(q.lang.as_deref());
    let o = officer_or_answer!(req, lang, Some(&f.csrf));
    let st = state(req);
    let ctx = st.request_context();
    let values = serde_json::to_value(&f).unwrap_or_default();
    let mut values_for = |field: &str, v: &str| {
        let mut m = values.as_object().cloned().unwrap_or_default();
        m.insert(field.into(), json!(v));
        Value::Object(m)
    };
    let required = |field: &str, v: &str| -> Result<String, RequestError> {
        let v = v.trim();
        if v.is_empty() {
            Err(RequestError::Invalid {
                field: field.into(),
                reason: lang.text("field_required", &[]),
            })
        } else {
            Ok(v.to_owned())
        }
    };
    let (field, result): (&str, Result<(), RequestError>) = match action.as_str() {
        "verify-identity" => match (ProofMethod::parse(&f.method), f.accounts()) {
            (None, _) => (
                "method",
                Err(RequestError::Invalid {
                    field: "method".into(),
                    reason: lang.text("field_required", &[]),
                }),
            ),
            (Some(_), Some(ticked)) if ticked.is_empty() => (
                "verify-accounts",
                Err(RequestError::Invalid {
                    field: "accounts".into(),
                    reason: lang.text("accounts_required", &[]),
                }),
            ),
            (Some(m), accounts) => (
                "method",
                requests::verify_identity(
                    &st.db,
                    &ctx,
                    id,
                    m,
                    Some(f.note.trim().to_owned()).filter(|n| !n.is_empty()),
                    accounts,
                    &o.actor,
                )
                .await
                .map(|_| ()),
            ),
        },
        "assign" => (
            "assignee",
            match required("assignee", &f.assignee) {
                Ok(a) => requests::assign(&st.db, id, a, &o.actor).await.map(|_| ()),
                Err(e) => Err(e),
            },
        ),
        "extend" => (
            "extend-reason",
            match required("reason", &f.reason) {
                Ok(reason) => {
                    let months = if f.months == "2" { 2 } else { 1 };
                    requests::extend(&st.db, &ctx, id, months, reason, &o.actor)
                        .await
                        .map(|_| ())
                }
                Err(e) => Err(e),
            },
        ),
        "refuse" => (
            "refuse-reason",
            match required("reason", &f.reason) {
                Ok(reason) => requests::refuse(&st.db, id, reason, &o.actor)
                    .await
                    .map(|_| ()),
                Err(e) => Err(e),
            },
        ),
        "complete" => (
            "summary",
            match required("summary", &f.summary) {
                Ok(s) => requests::complete(&st.db, &ctx, id, s, &o.actor)
                    .await
                    .map(|_| ()),
                Err(e) => Err(e),
            },
        ),
        "carry-out" => {
            let ids: Result<Vec<i64>, _> = f
                .record_ids
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::parse::<i64>)
                .collect();
            match ids {
                Ok(record_ids) => {
                    let input = requests::CarryOut {
                        record_ids,
                        note: Some(f.note.clone()),
                    };
                    match requests::carry_out(&st.db, &ctx, id, input, &o.actor).await {
                        Ok(_) => ("record-ids", Ok(())),
                        // The store names the API's fields; the form's are these.
                        Err(RequestError::Invalid { field, reason }) if field == "note" => {
                            ("correction", Err(RequestError::Invalid { field, reason }))
                        }
                        Err(e) => ("record-ids", Err(e)),
                    }
                }
                Err(_) => (
                    "record-ids",
                    Err(RequestError::Invalid {
                        field: "record_ids".into(),
                        reason: lang.text("record_ids_hint", &[]),
                    }),
                ),
            }
        }
        "lift-restriction" => (
            "lift",
            requests::lift_restriction(&st.db, id, &o.actor)
                .await
                .map(|_| ()),
        ),
        "notes" => (
            "note-text",
            match required("text", &f.text) {
                Ok(t) => requests::note(&st.db, id, t, &o.actor).await,
                Err(e) => Err(e),
            },
        ),
        _ => {
            return missing(lang, &o, format!("/officer?lang={}", lang.code()));
        }
    };
    match result {
        Ok(()) => done(req, &format!("/officer/requests/{id}"), lang),
        Err(e) => {
            // The form's own fields keep what was typed; the reason fields share a name.
            let values = match field {
                "extend-reason" | "refuse-reason" => values_for(field, &f.reason),
                "note-text" => values_for(field, &f.text),
                _ => values.clone(),
            };
            let doing = format!("doing_{}", action.replace('-', "_"));
            refused(req, id, lang, &o, (field, &doing), e, values).await
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct CsrfForm {
    csrf: String,
    reason: String,
    /// `yes` when the box confirming an approval is ticked.
    confirm: String,
}

#[handler]
pub async fn decide_match(
    req: &Request,
    Path((id, m, what)): Path<(i64, i64, String)>,
    Query(q): Query<LangQuery>,
    Form(f): Form<CsrfForm>,
) -> Response {
    let lang = Lang::of(q.lang.as_deref());
    let o = officer_or_answer!(req, lang, Some(&f.csrf));
    // A word the page never sends decides nothing: it is not taken for a rejection.
    let confirm = match what.as_str() {
        "confirm" => true,
        "reject" => false,
        _ => {
            return missing(
                lang,
                &o,
                format!("/officer/requests/{id}?lang={}", lang.code()),
            );
        }
    };
    match requests::decide_match(&state(req).db, id, m, confirm, &o.actor).await {
        Ok(_) => done(req, &format!("/officer/requests/{id}"), lang),
        Err(e) => refused(req, id, lang, &o, ("accounts", "doing_match"), e, json!({})).await,
    }
}

async fn plan_page(
    req: &Request,
    id: i64,
    lang: Lang,
    o: &Officer,
    status: StatusCode,
    flash: Option<String>,
    errors: Map<String, Value>,
) -> Response {
    let st = state(req);
    let v = match erasure::view(&st.db, id).await {
        Ok(v) => v,
        Err(_) => {
            return missing(
                lang,
                o,
                format!("/officer/requests/{id}?lang={}", lang.code()),
            );
        }
    };
    let reference = entities::request::Entity::find_by_id(id)
        .one(&st.db)
        .await
        .ok()
        .flatten()
        .map(|r| r.reference)
        .unwrap_or_default();
    let plan = poem_openapi::types::ToJSON::to_json(&crate::erasure::api::plan_view(v))
        .unwrap_or_default();
    render(
        status,
        "plan.html",
        frame(
            lang,
            format!("{} {reference}", lang.text("plan_title", &[])),
            &format!("/officer/requests/{id}/plan"),
            o,
            flash,
        ),
        json!({"plan": plan, "reference": reference, "errors": errors}),
    )
}

#[handler]
pub async fn show_plan(req: &Request, Path(id): Path<i64>, Query(q): Query<LangQuery>) -> Response {
    let lang = Lang::of(q.lang.as_deref());
    let o = officer_or_answer!(req, lang, None);
    let said = flash(req, lang);
    let flashed = said.is_some();
    let page = plan_page(req, id, lang, &o, StatusCode::OK, said, Map::new()).await;
    shown(page, flashed)
}

fn erasure_error(lang: Lang, e: ErasureError) -> RequestError {
    match e {
        ErasureError::Request(e) => e,
        ErasureError::NoPlan(id) => RequestError::NotFound(id),
        ErasureError::NoItem(_) => RequestError::Invalid {
            field: "item".into(),
            reason: lang.text("why_no_item", &[]),
        },
    }
}

#[handler]
pub async fn compute_plan(
    req: &Request,
    Path(id): Path<i64>,
    Query(q): Query<LangQuery>,
    Form(f): Form<CsrfForm>,
) -> Response {
    let lang = Lang::of(q.lang.as_deref());
    let o = officer_or_answer!(req, lang, Some(&f.csrf));
    let st = state(req);
    let ctx = st.erasure_context();
    let today = ctx.requests.today(chrono::Utc::now());
    match erasure::plan(&st.db, &ctx, id, today, &o.actor).await {
        Ok(_) => see_other(&format!("/officer/requests/{id}/plan?lang={}", lang.code())),
        Err(e) => {
            let e = erasure_error(lang, e);
            refused(req, id, lang, &o, ("actions", "doing_plan"), e, json!({})).await
        }
    }
}

#[handler]
pub async fn approve(
    req: &Request,
    Path(id): Path<i64>,
    Query(q): Query<LangQuery>,
    Form(f): Form<CsrfForm>,
) -> Response {
    let lang = Lang::of(q.lang.as_deref());
    let o = officer_or_answer!(req, lang, Some(&f.csrf));
    // Approving erases for good: it takes a ticked box, not one tap.
    if f.confirm != "yes" {
        let mut errors = Map::new();
        errors.insert(
            "confirm-approve".into(),
            json!(lang.text("approve_confirm_required", &[])),
        );
        return plan_page(req, id, lang, &o, StatusCode::BAD_REQUEST, None, errors).await;
    }
    let st = state(req);
    let ctx = st.erasure_context();
    let today = ctx.requests.today(chrono::Utc::now());
    match erasure::approve(&st.db, &ctx, id, today, &o.actor).await {
        Ok(_) => done(req, &format!("/officer/requests/{id}/plan"), lang),
        Err(e) => {
            let now = status_now(&st.db, id).await;
            let (status, text) = told(
                lang,
                "doing_approve",
                now.as_deref(),
                erasure_error(lang, e),
            );
            let mut errors = Map::new();
            errors.insert("approve".into(), json!(text));
            plan_page(req, id, lang, &o, status, None, errors).await
        }
    }
}

#[handler]
pub async fn exclusion(
    req: &Request,
    Path((id, item, what)): Path<(i64, i64, String)>,
    Query(q): Query<LangQuery>,
    Form(f): Form<CsrfForm>,
) -> Response {
    let lang = Lang::of(q.lang.as_deref());
    let o = officer_or_answer!(req, lang, Some(&f.csrf));
    let reason = match what.as_str() {
        "include" => None,
        "exclude" => {
            let r = f.reason.trim();
            if r.is_empty() {
                let mut errors = Map::new();
                errors.insert(
                    format!("reason-{item}"),
                    json!(lang.text("field_required", &[])),
                );
                return plan_page(req, id, lang, &o, StatusCode::BAD_REQUEST, None, errors).await;
            }
            Some(r.to_owned())
        }
        // A word the page never sends changes nothing: it is not taken for leaving the item out.
        _ => {
            return missing(
                lang,
                &o,
                format!("/officer/requests/{id}/plan?lang={}", lang.code()),
            );
        }
    };
    match erasure::exclude(
        &state(req).db,
        &state(req).erasure_policy,
        id,
        item,
        reason,
        &o.actor,
    )
    .await
    {
        Ok(_) => done(req, &format!("/officer/requests/{id}/plan"), lang),
        Err(e) => {
            let now = status_now(&state(req).db, id).await;
            let (status, text) = told(
                lang,
                "doing_exclude",
                now.as_deref(),
                erasure_error(lang, e),
            );
            let mut errors = Map::new();
            errors.insert(format!("reason-{item}"), json!(text));
            plan_page(req, id, lang, &o, status, None, errors).await
        }
    }
}

async fn tasks_page(
    req: &Request,
    lang: Lang,
    o: &Officer,
    status: StatusCode,
    flash: Option<String>,
    errors: Map<String, Value>,
) -> Response {
    let st = state(req);
    // A failed read is told as a failure: an empty list would say there is nothing to take down.
    let tasks =
        match crate::consent::store::list_tasks(&st.db, Some(TaskStatus::Open), None, 500).await {
            Ok(tasks) => tasks,
            Err(e) => {
                let (status, text) = internal(lang, &e);
                return officer_message(status, lang, o, text, None);
            }
        };
    let tasks: Vec<Value> = tasks
        .iter()
        .map(|t| json!({"id": t.id, "reason": t.reason, "action": t.action, "link": t.link, "created_at": t.created_at.to_rfc3339()}))
        .collect();
    render(
        status,
        "tasks.html",
        frame(
            lang,
            lang.text("tasks_title", &[]),
            "/officer/tasks",
            o,
            flash,
        ),
        json!({"tasks": tasks, "tz": st.settings.time_zone, "errors": errors}),
    )
}

#[handler]
pub async fn show_tasks(req: &Request, Query(q): Query<LangQuery>) -> Response {
    let lang = Lang::of(q.lang.as_deref());
    let o = officer_or_answer!(req, lang, None);
    let said = flash(req, lang);
    let flashed = said.is_some();
    let page = tasks_page(req, lang, &o, StatusCode::OK, said, Map::new()).await;
    shown(page, flashed)
}

#[handler]
pub async fn close_task(
    req: &Request,
    Path(id): Path<i64>,
    Query(q): Query<LangQuery>,
    Form(f): Form<ActionForm>,
) -> Response {
    let lang = Lang::of(q.lang.as_deref());
    let o = officer_or_answer!(req, lang, Some(&f.csrf));
    let mut errors = Map::new();
    // Only the two choices the form offers close a task; anything else is not taken for "done".
    let status = match f.status.as_str() {
        "done" => TaskStatus::Done,
        "not_possible" => TaskStatus::NotPossible,
        _ => {
            errors.insert(format!("status-{id}"), json!(lang.text("choose_one", &[])));
            return tasks_page(req, lang, &o, StatusCode::BAD_REQUEST, None, errors).await;
        }
    };
    let note = Some(f.note.trim().to_owned()).filter(|n| !n.is_empty());
    if status == TaskStatus::NotPossible && note.is_none() {
        errors.insert(
            format!("note-{id}"),
            json!(lang.text("field_required", &[])),
        );
        return tasks_page(req, lang, &o, StatusCode::BAD_REQUEST, None, errors).await;
    }
    match crate::consent::store::close_task(&state(req).db, id, status, note, &o.actor).await {
        Ok(_) => done(req, "/officer/tasks", lang),
        Err(e) => {
            let (status, text) = match e {
                crate::consent::store::ConsentError::Db(e) => internal(lang, &e),
                crate::consent::store::ConsentError::NoTask(_) => {
                    (StatusCode::NOT_FOUND, lang.text("task_not_found", &[]))
                }
                crate::consent::store::ConsentError::Closed(_) => {
                    (StatusCode::CONFLICT, lang.text("task_closed", &[]))
                }
                other => (
                    StatusCode::CONFLICT,
                    lang.text("not_allowed", &[("reason", other.to_string())]),
                ),
            };
            errors.insert(format!("note-{id}"), json!(text));
            tasks_page(req, lang, &o, status, None, errors).await
        }
    }
}
