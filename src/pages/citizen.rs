//! The citizen's pages: what one may ask for and the form (`/`), and the request's status page with
//! the code, the account phrase, the outcome and the download (`/requests/{id}?token=…`).
use super::{Frame, Lang, message, render, see_other, state};
use crate::archive::api::PlatformName;
use crate::audit::Actor;
use crate::http::AppError;
use crate::requests::api::{
    LanguageName, NamedAccount, RequestTypeName, SubmitRequest, new_request, view,
};
use crate::requests::rules::{RequestType, Status};
use crate::requests::store::{self as requests, RequestError};
use poem::http::StatusCode;
use poem::web::{Form, Path, Query};
use poem::{Request, Response, handler};
use poem_openapi::types::ParseFromJSON;
use serde::Deserialize;
use serde_json::{Map, Value, json};

const KINDS: &[&str] = &[
    "access",
    "export",
    "erasure",
    "rectification",
    "restriction",
    "objection",
    "withdraw_consent",
];
const PLATFORMS: &[&str] = &[
    "facebook",
    "instagram",
    "messenger",
    "x",
    "linkedin",
    "youtube",
    "other",
];

#[derive(Deserialize, Default)]
pub struct LangQuery {
    lang: Option<String>,
}

#[derive(Deserialize, Default)]
pub struct TokenQuery {
    lang: Option<String>,
    token: Option<String>,
}

#[derive(Deserialize, Default, serde::Serialize)]
#[serde(default)]
pub struct SubmitForm {
    #[serde(rename = "type")]
    kind: String,
    email: String,
    platform0: String,
    account0: String,
    platform1: String,
    account1: String,
    message: String,
}

#[derive(Deserialize, Default, serde::Serialize)]
#[serde(default)]
pub struct TokenForm {
    token: String,
    code: String,
    /// `yes` when the box saying the citizen means to withdraw is ticked.
    confirm: String,
}

fn citizen() -> Actor {
    Actor {
        id: "citizen".into(),
        role: "citizen".into(),
    }
}

fn home_page(
    lang: Lang,
    status: StatusCode,
    values: Value,
    errors: Map<String, Value>,
) -> Response {
    render(
        status,
        "home.html",
        Frame {
            lang,
            title: lang.text("home_title", &[]),
            path: "/",
            officer: None,
            flash: None,
        },
        json!({"kinds": KINDS, "platforms": PLATFORMS, "values": values, "errors": errors}),
    )
}

#[handler]
pub fn home(Query(q): Query<LangQuery>) -> Response {
    home_page(
        Lang::of(q.lang.as_deref()),
        StatusCode::OK,
        json!({}),
        Map::new(),
    )
}

fn rate_limited(lang: Lang, path: &str, wait: u64) -> Response {
    let sep = if path.contains('?') { '&' } else { '?' };
    let mut r = message(
        StatusCode::TOO_MANY_REQUESTS,
        lang,
        path,
        lang.text("rate_limited", &[("seconds", wait.to_string())]),
        Some(format!("{path}{sep}lang={}", lang.code())),
    );
    if let Ok(v) = poem::http::HeaderValue::from_str(&wait.to_string()) {
        r.headers_mut().insert(poem::http::header::RETRY_AFTER, v);
    }
    r
}

/// The page to answer instead, when the address has used up its budget; `path` is the page the
/// citizen came from, which it links back to.
fn limited(req: &Request, lang: Lang, path: &str) -> Option<Response> {
    let st = state(req);
    st.limiter
        .check(st.client(req))
        .err()
        .map(|wait| rate_limited(lang, path, wait))
}

/// The form's field an API field name stands for.
fn form_field(api: &str) -> String {
    match api {
        "identities/0/value" | "identities" => "account0".into(),
        "identities/1/value" => "account1".into(),
        other => other.to_owned(),
    }
}

#[handler]
pub async fn submit(
    req: &Request,
    Query(q): Query<LangQuery>,
    Form(f): Form<SubmitForm>,
) -> Response {
    let lang = Lang::of(q.lang.as_deref());
    if let Some(r) = limited(req, lang, "/") {
        return r;
    }
    let mut errors = Map::new();
    let required = lang.text("field_required", &[]);
    let kind = RequestTypeName::parse_from_json(Some(Value::String(f.kind.clone()))).ok();
    if kind.is_none() {
        errors.insert("type".into(), json!(lang.text("type_required", &[])));
    }
    if f.email.trim().is_empty() {
        errors.insert("email".into(), json!(required));
    } else if crate::mail::rules::Email::parse(f.email.trim()).is_err() {
        errors.insert("email".into(), json!(lang.text("email_invalid", &[])));
    }
    let mut identities = vec![];
    for (platform, account) in [(&f.platform0, &f.account0), (&f.platform1, &f.account1)] {
        if account.trim().is_empty() {
            continue;
        }
        let platform = PlatformName::parse_from_json(Some(Value::String(platform.clone())))
            .unwrap_or(PlatformName::Other);
        identities.push(NamedAccount {
            platform,
            value: account.trim().chars().take(300).collect(),
        });
    }
    if identities.is_empty() {
        errors.insert("account0".into(), json!(required));
    }
    let values = serde_json::to_value(&f).unwrap_or_default();
    let (Some(kind), true) = (kind, errors.is_empty()) else {
        return home_page(lang, StatusCode::BAD_REQUEST, values, errors);
    };
    let body = SubmitRequest {
        request_type: kind,
        email: f.email.trim().to_owned(),
        language: Some(match lang {
            Lang::Sv => LanguageName::Sv,
            Lang::En => LanguageName::En,
        }),
        identities,
        message: Some(f.message.chars().take(5000).collect()),
        received_at: None,
    };
    let new = match new_request(body, false) {
        Ok(n) => n,
        Err(AppError::Validation(fields)) => {
            for e in fields {
                errors.insert(form_field(&e.field), json!(e.reason));
            }
            return home_page(lang, StatusCode::BAD_REQUEST, values, errors);
        }
        Err(_) => return internal(lang, "/"),
    };
    let st = state(req);
    match st.intakes.submit(new, &citizen()).await {
        Ok(s) => match s.status_token {
            Some(token) => back_to(req, s.request.id, &token, lang, "submitted"),
            // Added to an open request of the same person (or sent twice by a double tap): its
            // link was mailed before, and a mail says it was added. Nothing went wrong.
            None => render(
                StatusCode::OK,
                "received.html",
                Frame {
                    lang,
                    title: lang.text("duplicate_title", &[]),
                    path: "/",
                    officer: None,
                    flash: None,
                },
                json!({"reference": s.request.reference}),
            ),
        },
        Err(e) => {
            tracing::error!(error = %e, "a submission from the form failed");
            internal(lang, "/")
        }
    }
}

fn internal(lang: Lang, path: &str) -> Response {
    message(
        StatusCode::INTERNAL_SERVER_ERROR,
        lang,
        path,
        lang.text("internal", &[]),
        None,
    )
}

fn not_found(lang: Lang) -> Response {
    message(
        StatusCode::NOT_FOUND,
        lang,
        "/",
        lang.text("not_found", &[]),
        Some(format!("/?lang={}", lang.code())),
    )
}

/// The status page of request `id` opened with `token`.
fn status_path(id: i64, token: &str) -> String {
    format!("/requests/{id}?token={}", super::url_encode(token.trim()))
}

/// The key in what was typed into the key page's field, if it was a whole link from a mail
/// (`https://…/requests/12?token=dsr_…&lang=sv`) rather than the key alone; and the request the
/// link names.
fn pasted_link(typed: &str) -> Option<(Option<i64>, String)> {
    let (before, after) = typed.trim().split_once("token=")?;
    let token: String = after
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    let id = before
        .rsplit_once("/requests/")
        .and_then(|(_, rest)| rest.split(['?', '/', '&', '#']).next()?.parse().ok());
    Some((id, token))
}

/// The request behind the token, if the token is this request's.
async fn owned(req: &Request, id: i64, token: &str) -> Option<entities::request::Model> {
    let st = state(req);
    requests::by_status_token(&st.db, token)
        .await
        .ok()
        .flatten()
        .filter(|r| r.id == id)
}

/// What the status page says besides the request: that something was done (`flash`), what could
/// not be done (`problem`, at the top of the page), and errors beside their fields.
#[derive(Default)]
struct Said {
    flash: Option<String>,
    problem: Option<String>,
    errors: Map<String, Value>,
}

async fn status_page(
    req: &Request,
    id: i64,
    token: &str,
    lang: Lang,
    code: StatusCode,
    said: Said,
) -> Response {
    let st = state(req);
    let Some(r) = owned(req, id, token).await else {
        return not_found(lang);
    };
    let v = match view(st, id, false).await {
        Ok(v) => v,
        Err(_) => return internal(lang, "/"),
    };
    let r_json = poem_openapi::types::ToJSON::to_json(&v).unwrap_or_default();
    let status = requests::status_of(&r);
    let sv = lang == Lang::Sv;
    let mut outcome = vec![];
    for (heading, decisions) in [
        ("outcome_erased", &["erase"][..]),
        ("outcome_kept", &["retain", "retain_under_hold"][..]),
        ("outcome_unpublished", &["unpublish"][..]),
    ] {
        let items: Vec<&crate::requests::api::ErasureOutcomeItem> = v
            .erasure_outcome
            .iter()
            .filter(|o| decisions.contains(&o.decision.as_str()))
            .collect();
        if !items.is_empty() {
            outcome.push(json!({
                "heading": lang.text(heading, &[]),
                "items": items.iter().map(|o| json!({"label": o.label, "sentence": o.sentence, "task_status": o.task_status})).collect::<Vec<_>>(),
            }));
        }
    }
    let notes = if outcome.is_empty() {
        vec![]
    } else {
        st.erasure_policy.notes(if sv {
            crate::mail::rules::Language::Sv
        } else {
            crate::mail::rules::Language::En
        })
    };
    let kind = RequestType::parse(&r.request_type);
    let package = if matches!(kind, Some(RequestType::Access | RequestType::Export))
        && status == Status::Completed
    {
        crate::packages::store::latest(&st.db, id)
            .await
            .ok()
            .flatten()
            .map(|p| p.status)
    } else {
        None
    };
    render(
        code,
        "status.html",
        Frame {
            lang,
            title: format!("{} {}", lang.text("status_title", &[]), r.reference),
            path: &format!("/requests/{id}?token={token}"),
            officer: None,
            flash: said.flash,
        },
        json!({
            "r": r_json,
            "tz": st.settings.time_zone,
            "token": token,
            "open": status.is_open(),
            "needs_code": status == Status::AwaitingVerification && r.email_verified_at.is_none(),
            "cancellable": matches!(status, Status::AwaitingVerification | Status::Verified),
            "outcome": outcome,
            "notes": notes,
            "package": package,
            "problem": said.problem,
            "errors": said.errors,
        }),
    )
}

#[handler]
pub async fn show(req: &Request, Path(id): Path<i64>, Query(q): Query<TokenQuery>) -> Response {
    // The key page's field takes a whole link pasted from a mail as well as the key: the page
    // goes to the link's own address, so that the address bar holds the link to keep.
    if let Some((linked, token)) = q.token.as_deref().and_then(pasted_link) {
        let mut to = status_path(linked.unwrap_or(id), &token);
        if let Some(lang) = q.lang.as_deref() {
            to.push_str(&format!("&lang={}", Lang::of(Some(lang)).code()));
        }
        return see_other(&to);
    }
    // A link without `lang` (a mail's) shows the page in the request's own language, as its
    // outcome is written.
    let lang = match (q.lang.as_deref(), q.token.as_deref()) {
        (None, Some(token)) => match owned(req, id, token.trim()).await {
            Some(r) => Lang::of(Some(&r.language)),
            None => Lang::of(None),
        },
        (given, _) => Lang::of(given),
    };
    let word = super::flash_word(req);
    let flash = word.as_deref().and_then(|d| match d {
        "verified" => Some(lang.text("verified_done", &[])),
        "code" => Some(lang.text("code_sent", &[])),
        "cancelled" => Some(lang.text("cancelled_done", &[])),
        // Just submitted: say that it arrived and that the link is the way back.
        "submitted" => Some(lang.text("submitted_note", &[])),
        _ => None,
    });
    // The links in later mails carry no token: the page asks for the one the receipt carried,
    // and says nothing of whether a request `id` exists.
    let Some(token) = q.token.as_deref().filter(|t| !t.trim().is_empty()) else {
        return render(
            StatusCode::OK,
            "key.html",
            Frame {
                lang,
                title: lang.text("key_title", &[]),
                path: &format!("/requests/{id}"),
                officer: None,
                flash: None,
            },
            json!({"id": id}),
        );
    };
    let mut page = status_page(
        req,
        id,
        token.trim(),
        lang,
        StatusCode::OK,
        Said {
            flash,
            ..Said::default()
        },
    )
    .await;
    if word.is_some() {
        super::clear_flash(&mut page, &format!("/requests/{id}"));
    }
    page
}

/// Back to the status page, which says once that `done` was done.
fn back_to(req: &Request, id: i64, token: &str, lang: Lang, done: &str) -> Response {
    super::see_other_saying(
        &format!("/requests/{id}?token={token}&lang={}", lang.code()),
        &format!("/requests/{id}"),
        done,
        state(req).settings.public_url.starts_with("https://"),
    )
}

/// What a failed citizen action (`doing`, a text key) shows: on the status page, next to the code
/// field where it is about the code, and at the top of the page otherwise (the form it came from
/// may be gone: a request the officer has taken on can no longer be withdrawn).
async fn failed(
    req: &Request,
    id: i64,
    token: &str,
    lang: Lang,
    doing: &str,
    e: RequestError,
) -> Response {
    let beside_code = matches!(
        e,
        RequestError::WrongCode(_) | RequestError::CodeExpired | RequestError::CodeExhausted
    );
    let (code, text) = match e {
        RequestError::WrongCode(left) => (
            StatusCode::BAD_REQUEST,
            lang.text("code_wrong", &[("left", left.to_string())]),
        ),
        RequestError::CodeExpired => (StatusCode::GONE, lang.text("code_expired", &[])),
        RequestError::CodeExhausted => (StatusCode::CONFLICT, lang.text("code_exhausted", &[])),
        RequestError::CodeTooSoon(s) => (
            StatusCode::TOO_MANY_REQUESTS,
            lang.text("code_too_soon", &[("seconds", s.to_string())]),
        ),
        RequestError::Invalid { reason, .. } => (
            StatusCode::BAD_REQUEST,
            super::words::invalid(lang, &reason),
        ),
        RequestError::Illegal(why) => {
            let now = owned(req, id, token).await.map(|r| r.status);
            (
                StatusCode::CONFLICT,
                super::words::illegal(
                    lang,
                    super::words::Voice::Citizen,
                    doing,
                    now.as_deref(),
                    &why,
                ),
            )
        }
        RequestError::NotFound(_) | RequestError::NoMatch(..) => return not_found(lang),
        RequestError::Db(e) => {
            tracing::error!(error = %e, "a citizen action failed");
            return internal(lang, "/");
        }
    };
    let said = if beside_code {
        let mut errors = Map::new();
        errors.insert("code".into(), json!(text));
        Said {
            errors,
            ..Said::default()
        }
    } else {
        Said {
            problem: Some(text),
            ..Said::default()
        }
    };
    status_page(req, id, token, lang, code, said).await
}

#[handler]
pub async fn verify(
    req: &Request,
    Path(id): Path<i64>,
    Query(q): Query<LangQuery>,
    Form(f): Form<TokenForm>,
) -> Response {
    let lang = Lang::of(q.lang.as_deref());
    if let Some(r) = limited(req, lang, &status_path(id, &f.token)) {
        return r;
    }
    if owned(req, id, &f.token).await.is_none() {
        return not_found(lang);
    }
    if f.code.trim().is_empty() {
        let mut errors = Map::new();
        errors.insert("code".into(), json!(lang.text("field_required", &[])));
        return status_page(
            req,
            id,
            &f.token,
            lang,
            StatusCode::BAD_REQUEST,
            Said {
                errors,
                ..Said::default()
            },
        )
        .await;
    }
    match requests::verify_code(
        &state(req).db,
        &state(req).request_context(),
        id,
        &f.code,
        &citizen(),
    )
    .await
    {
        // The token the form carried stops working: the page goes on under the new one.
        Ok(confirmed) => back_to(req, id, &confirmed.status_token, lang, "verified"),
        Err(e) => failed(req, id, &f.token, lang, "doing_verify", e).await,
    }
}

#[handler]
pub async fn resend(
    req: &Request,
    Path(id): Path<i64>,
    Query(q): Query<LangQuery>,
    Form(f): Form<TokenForm>,
) -> Response {
    let lang = Lang::of(q.lang.as_deref());
    if let Some(r) = limited(req, lang, &status_path(id, &f.token)) {
        return r;
    }
    if owned(req, id, &f.token).await.is_none() {
        return not_found(lang);
    }
    match requests::resend_code(
        &state(req).db,
        &state(req).request_context(),
        id,
        &citizen(),
    )
    .await
    {
        Ok(_) => back_to(req, id, &f.token, lang, "code"),
        Err(e) => failed(req, id, &f.token, lang, "doing_code", e).await,
    }
}

#[handler]
pub async fn cancel(
    req: &Request,
    Path(id): Path<i64>,
    Query(q): Query<LangQuery>,
    Form(f): Form<TokenForm>,
) -> Response {
    let lang = Lang::of(q.lang.as_deref());
    if owned(req, id, &f.token).await.is_none() {
        return not_found(lang);
    }
    // A withdrawal cannot be taken back: one tap on the button is not enough.
    if f.confirm != "yes" {
        let mut errors = Map::new();
        errors.insert(
            "confirm-cancel".into(),
            json!(lang.text("cancel_confirm_required", &[])),
        );
        let said = Said {
            errors,
            ..Said::default()
        };
        return status_page(req, id, &f.token, lang, StatusCode::BAD_REQUEST, said).await;
    }
    match requests::cancel(&state(req).db, id, &citizen()).await {
        Ok(_) => back_to(req, id, &f.token, lang, "cancelled"),
        Err(e) => failed(req, id, &f.token, lang, "doing_cancel", e).await,
    }
}

/// The package, for a browser: the status token comes in the link, not in a header.
#[handler]
pub async fn download(req: &Request, Path(id): Path<i64>, Query(q): Query<TokenQuery>) -> Response {
    use crate::packages::store::{DownloadError, open_download};
    let lang = Lang::of(q.lang.as_deref());
    let token = q.token.unwrap_or_default();
    if owned(req, id, &token).await.is_none() {
        return not_found(lang);
    }
    let st = state(req);
    let back = Some(format!("/requests/{id}?token={token}&lang={}", lang.code()));
    let path = format!("/requests/{id}?token={token}");
    let gone = |key: &str| {
        message(
            StatusCode::GONE,
            lang,
            &path,
            lang.text(key, &[]),
            back.clone(),
        )
    };
    let (p, file) = match open_download(&st.db, &st.package_storage(), id, &citizen()).await {
        Ok(found) => found,
        Err(DownloadError::Expired) => return gone("package_expired"),
        Err(DownloadError::Erased) => return gone("package_erased"),
        Err(DownloadError::None) => return not_found(lang),
        Err(DownloadError::GaveUp) => {
            return message(
                StatusCode::CONFLICT,
                lang,
                &path,
                lang.text("package_failed", &[]),
                back,
            );
        }
        Err(DownloadError::NotReady | DownloadError::Failed) => {
            return message(
                StatusCode::CONFLICT,
                lang,
                &path,
                lang.text("download_building", &[]),
                back,
            );
        }
        Err(DownloadError::Db(e)) => {
            tracing::error!(error = %e, "a download failed");
            return internal(lang, "/");
        }
        Err(DownloadError::File(e)) => {
            tracing::error!(error = %e, "a package's file cannot be read");
            return internal(lang, "/");
        }
    };
    match crate::http::file_body(file).await {
        Ok(body) => {
            let mut r = Response::builder()
                .content_type("application/zip")
                .header(
                    poem::http::header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{}-{id}.zip\"", p.kind),
                )
                .header(poem::http::header::CACHE_CONTROL, "no-store")
                .body(body);
            if let Some(sha) = p.sha256.as_deref()
                && let Ok(v) = poem::http::HeaderValue::from_str(sha)
            {
                r.headers_mut().insert("x-package-sha256", v);
            }
            r
        }
        Err(e) => {
            tracing::error!(error = %e, package = p.id, "a package file could not be opened");
            internal(lang, "/")
        }
    }
}
