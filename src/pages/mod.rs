//! Server-rendered pages for citizens (`/`, `/requests/{id}?token=…`) and the privacy officer
//! (`/officer/…`), in Swedish by default and English by a switch. No scripts: every form posts and
//! the server answers with a page or a redirect. The pages call the same stores as the API.
mod citizen;
mod officer;
mod words;

use crate::app::AppState;
use minijinja::Environment;
use poem::http::{StatusCode, header};
use poem::{Response, Route, get, post};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::OnceLock;

/// The templates and the words, read once.
struct Pages {
    env: Environment<'static>,
    texts: HashMap<&'static str, Value>,
}

fn pages() -> &'static Pages {
    static PAGES: OnceLock<Pages> = OnceLock::new();
    PAGES.get_or_init(|| {
        let mut env = Environment::new();
        for (name, source) in [
            ("base.html", include_str!("templates/base.html")),
            ("macros.html", include_str!("templates/macros.html")),
            ("home.html", include_str!("templates/home.html")),
            ("status.html", include_str!("templates/status.html")),
            ("message.html", include_str!("templates/message.html")),
            ("received.html", include_str!("templates/received.html")),
            ("key.html", include_str!("templates/key.html")),
            ("login.html", include_str!("templates/login.html")),
            ("queue.html", include_str!("templates/queue.html")),
            ("request.html", include_str!("templates/request.html")),
            ("plan.html", include_str!("templates/plan.html")),
            ("tasks.html", include_str!("templates/tasks.html")),
        ] {
            env.add_template(name, source)
                .unwrap_or_else(|e| panic!("template {name}: {e}"));
        }
        env.add_filter("local", local_time);
        let all: toml::Table =
            toml::from_str(include_str!("texts.toml")).expect("texts.toml is valid TOML");
        let texts = ["sv", "en"]
            .into_iter()
            .map(|l| (l, serde_json::to_value(&all[l]).expect("texts are strings")))
            .collect();
        Pages { env, texts }
    })
}

/// `{{ at|local(tz) }}`: an RFC 3339 instant as the municipality's clock shows it, to the minute;
/// `{{ at|local(tz, "date") }}`, its date there. Stored instants are UTC, and a request received at
/// 00:30 in Stockholm was received on that day, not the one before. Anything else is shown as it is.
fn local_time(at: String, tz: Option<String>, part: Option<String>) -> String {
    let zone: chrono_tz::Tz = tz
        .as_deref()
        .and_then(|z| z.parse().ok())
        .unwrap_or(chrono_tz::Europe::Stockholm);
    let Ok(instant) = chrono::DateTime::parse_from_rfc3339(&at) else {
        return at;
    };
    let local = instant.with_timezone(&zone);
    match part.as_deref() {
        Some("date") => local.format("%Y-%m-%d").to_string(),
        _ => local.format("%Y-%m-%d %H:%M").to_string(),
    }
}

/// The page's language: `?lang=en`, else Swedish.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    Sv,
    En,
}

impl Lang {
    pub fn of(q: Option<&str>) -> Lang {
        if q == Some("en") { Lang::En } else { Lang::Sv }
    }

    pub fn code(self) -> &'static str {
        match self {
            Lang::Sv => "sv",
            Lang::En => "en",
        }
    }

    fn other(self) -> Lang {
        match self {
            Lang::Sv => Lang::En,
            Lang::En => Lang::Sv,
        }
    }

    /// A text by key, with `{name}` placeholders filled.
    pub fn text(self, key: &str, args: &[(&str, String)]) -> String {
        let mut s = pages().texts[self.code()][key]
            .as_str()
            .unwrap_or(key)
            .to_owned();
        for (name, value) in args {
            s = s.replace(&format!("{{{name}}}"), value);
        }
        s
    }
}

/// What every page needs besides its own data.
pub struct Frame<'a> {
    pub lang: Lang,
    pub title: String,
    /// The same page in the other language.
    pub path: &'a str,
    pub officer: Option<&'a str>,
    pub flash: Option<String>,
}

/// Renders `template` with `data` (a JSON object) and the frame.
pub fn render(status: StatusCode, template: &str, frame: Frame<'_>, data: Value) -> Response {
    let p = pages();
    let sep = if frame.path.contains('?') { '&' } else { '?' };
    let mut ctx = json!({
        "t": p.texts[frame.lang.code()],
        "lang": frame.lang.code(),
        "title": frame.title,
        "other_url": format!("{}{sep}lang={}", frame.path, frame.lang.other().code()),
        "officer": frame.officer.is_some(),
        "csrf": frame.officer.unwrap_or_default(),
        "flash": frame.flash,
        "errors": {},
        "values": {},
    });
    if let (Some(ctx), Value::Object(data)) = (ctx.as_object_mut(), data) {
        ctx.extend(data);
    }
    match p.env.get_template(template).and_then(|t| t.render(&ctx)) {
        Ok(body) => html(status, body),
        Err(e) => {
            tracing::error!(template, error = %e, "a page could not be rendered");
            html(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!(
                    "<!doctype html><html lang=\"{0}\"><head><meta charset=\"utf-8\"><title>{1}</title></head><body><main><h1>{1}</h1></main></body></html>",
                    frame.lang.code(),
                    frame.lang.text("internal", &[])
                ),
            )
        }
    }
}

/// A page that only says what went wrong, with a way back.
pub fn message(
    status: StatusCode,
    lang: Lang,
    path: &str,
    text: String,
    back: Option<String>,
) -> Response {
    message_in(
        status,
        Frame {
            lang,
            title: lang.text("error_title", &[]),
            path,
            officer: None,
            flash: None,
        },
        text,
        back,
    )
}

/// [`message`] in `frame`: an officer's keeps the officer's navigation and signing out.
pub fn message_in(
    status: StatusCode,
    frame: Frame<'_>,
    text: String,
    back: Option<String>,
) -> Response {
    render(
        status,
        "message.html",
        frame,
        json!({"text": text, "back": back}),
    )
}

/// Pages carry tokens in their links: nothing is cached, nothing leaks in a Referer, nothing frames
/// them, and no script runs.
fn html(status: StatusCode, body: String) -> Response {
    Response::builder()
        .status(status)
        .content_type("text/html; charset=utf-8")
        .header(header::CACHE_CONTROL, "no-store")
        .header("referrer-policy", "no-referrer")
        .header("x-content-type-options", "nosniff")
        .header("x-frame-options", "DENY")
        .header(
            "content-security-policy",
            "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; \
             frame-ancestors 'none'; base-uri 'none'",
        )
        .body(body)
}

pub fn see_other(to: &str) -> Response {
    Response::builder()
        .status(StatusCode::SEE_OTHER)
        .header(header::LOCATION, to)
        .header(header::CACHE_CONTROL, "no-store")
        .finish()
}

/// `s` as a part of a URL's query.
pub fn url_encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The value of the cookie `name` the browser sent.
pub fn cookie(req: &poem::Request, name: &str) -> Option<String> {
    req.headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

const FLASH: &str = "insyn_flash";

/// Redirects to `to`, and has the page there say once that `what` was done (a word the page
/// knows: `submitted`, `verified`, …). The word goes in a short-lived cookie for the pages under
/// `scope`, not in the address: the status page asks the citizen to keep its link, and a saved
/// link that carried the word would say it again every time. The cookie holds only the word,
/// never a token.
pub fn see_other_saying(to: &str, scope: &str, what: &str, secure: bool) -> Response {
    let mut r = see_other(to);
    let secure = if secure { "; Secure" } else { "" };
    if let Ok(v) = poem::http::HeaderValue::from_str(&format!(
        "{FLASH}={what}; Path={scope}; Max-Age=120; HttpOnly; SameSite=Strict{secure}"
    )) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

/// The word [`see_other_saying`] left for this page, if the browser brings one.
pub fn flash_word(req: &poem::Request) -> Option<String> {
    cookie(req, FLASH).filter(|w| !w.is_empty())
}

/// Clears the word [`see_other_saying`] left for the pages under `scope`, once it is shown.
pub fn clear_flash(r: &mut Response, scope: &str) {
    if let Ok(v) = poem::http::HeaderValue::from_str(&format!(
        "{FLASH}=; Path={scope}; Max-Age=0; HttpOnly; SameSite=Strict"
    )) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
}

#[poem::handler]
fn stylesheet() -> Response {
    Response::builder()
        .content_type("text/css; charset=utf-8")
        .header(header::CACHE_CONTROL, "public, max-age=3600")
        .body(include_str!("site.css"))
}

/// A page's route under a name of its own, as the API's operations have theirs: logs and metrics
/// name the route, never the path (which can hold a token).
///
/// What the extractors refuse (a path that is not a number, a form that is not a form) is
/// answered with a page too, not with the API's problem JSON; a wrong method keeps its 405.
fn named(name: &'static str, ep: poem::RouteMethod) -> impl poem::Endpoint<Output = Response> {
    use poem::EndpointExt;
    ep.map_to_response()
        .after(move |answer: poem::Result<Response>| async move {
            match answer {
                Err(e)
                    if e.status().is_client_error()
                        && e.status() != StatusCode::METHOD_NOT_ALLOWED =>
                {
                    // An officer's page is answered in the officer's words, and leads back to the
                    // queue, not to the citizens' home page.
                    let staff = OFFICER_PAGES.contains(&name);
                    let (status, key) = match (e.status(), staff) {
                        (StatusCode::NOT_FOUND, false) => (StatusCode::NOT_FOUND, "not_found"),
                        (StatusCode::NOT_FOUND, true) => {
                            (StatusCode::NOT_FOUND, "officer_not_found")
                        }
                        (status, false) => (status, "bad_address"),
                        (status, true) => (status, "officer_bad_address"),
                    };
                    let home = if staff { "/officer" } else { "/" };
                    Ok(message(
                        status,
                        Lang::Sv,
                        home,
                        Lang::Sv.text(key, &[]),
                        Some(home.into()),
                    ))
                }
                other => other,
            }
        })
        .map(move |mut r: Response| async move {
            r.set_data(poem_openapi::OperationId(name));
            r
        })
}

/// The officers' pages, by their route names.
const OFFICER_PAGES: &[&str] = &[
    "page_queue",
    "page_login",
    "page_logout",
    "page_find",
    "page_tasks",
    "page_close_task",
    "page_request",
    "page_plan",
    "page_approve",
    "page_plan_item",
    "page_match",
    "page_request_action",
];

/// Adds the pages to the router, beside the API.
pub fn mount(route: Route) -> Route {
    route
        .at("/", named("page_home", get(citizen::home)))
        .at(
            "/assets/site.css",
            named("page_stylesheet", get(stylesheet)),
        )
        .at("/requests", named("page_submit", post(citizen::submit)))
        .at("/requests/:id", named("page_status", get(citizen::show)))
        .at(
            "/requests/:id/verify",
            named("page_verify", post(citizen::verify)),
        )
        .at(
            "/requests/:id/code",
            named("page_new_code", post(citizen::resend)),
        )
        .at(
            "/requests/:id/cancel",
            named("page_cancel", post(citizen::cancel)),
        )
        .at(
            "/requests/:id/package",
            named("page_download", get(citizen::download)),
        )
        .at("/officer", named("page_queue", get(officer::show_queue)))
        .at(
            "/officer/login",
            named("page_login", get(officer::login_form).post(officer::login)),
        )
        .at(
            "/officer/logout",
            named("page_logout", post(officer::logout)),
        )
        .at(
            "/officer/find",
            named("page_find", get(officer::find_request)),
        )
        .at(
            "/officer/tasks",
            named("page_tasks", get(officer::show_tasks)),
        )
        .at(
            "/officer/tasks/:id/close",
            named("page_close_task", post(officer::close_task)),
        )
        .at(
            "/officer/requests/:id",
            named("page_request", get(officer::show_request)),
        )
        .at(
            "/officer/requests/:id/plan",
            named(
                "page_plan",
                get(officer::show_plan).post(officer::compute_plan),
            ),
        )
        .at(
            "/officer/requests/:id/approve",
            named("page_approve", post(officer::approve)),
        )
        .at(
            "/officer/requests/:id/plan/items/:item/:what",
            named("page_plan_item", post(officer::exclusion)),
        )
        .at(
            "/officer/requests/:id/matches/:m/:what",
            named("page_match", post(officer::decide_match)),
        )
        .at(
            "/officer/requests/:id/:action",
            named("page_request_action", post(officer::act)),
        )
}

/// The state, which the router always provides.
fn state(req: &poem::Request) -> &AppState {
    req.data::<AppState>()
        .expect("the router provides the state")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_are_shown_on_the_municipalitys_clock() {
        let tz = || Some("Europe/Stockholm".to_owned());
        // Half past midnight in Stockholm, in winter (UTC+1) and in summer (UTC+2).
        assert_eq!(
            local_time("2026-11-24T23:30:00Z".into(), tz(), Some("date".into())),
            "2026-11-25"
        );
        assert_eq!(
            local_time("2026-06-30T22:30:00.123456Z".into(), tz(), None),
            "2026-07-01 00:30"
        );
        assert_eq!(
            local_time(
                "2026-11-25T10:00:00Z".into(),
                Some("America/New_York".into()),
                None
            ),
            "2026-11-25 05:00"
        );
        assert_eq!(local_time("2026-12-28".into(), tz(), None), "2026-12-28");
    }

    #[test]
    fn both_languages_have_every_text_and_every_template_compiles() {
        let p = pages();
        let sv = p.texts["sv"].as_object().unwrap();
        let en = p.texts["en"].as_object().unwrap();
        let mut a: Vec<&String> = sv.keys().collect();
        let mut b: Vec<&String> = en.keys().collect();
        a.sort();
        b.sort();
        assert_eq!(a, b);
        // Every kind of event a request's history holds is told in words, not as its key.
        for kind in [
            "received",
            "duplicate_received",
            "code_sent",
            "code_wrong",
            "email_verified",
            "account_verified",
            "identity_verified",
            "status_link_replaced",
            "match_confirmed",
            "match_rejected",
            "assigned",
            "note",
            "extended",
            "refused",
            "cancelled",
            "completed",
            "carried_out",
            "restriction_lifted",
            "erasure_planned",
            "erasure_item_excluded",
            "erasure_item_included",
            "erasure_executed",
        ] {
            assert!(
                sv.contains_key(&format!("event_{kind}")),
                "no text for {kind}"
            );
        }
        for outcome in crate::erasure::rules::Outcome::ALL {
            let key = format!("item_outcome_{}", outcome.as_str());
            assert!(sv.contains_key(&key), "no text for {key}");
        }
        // Every stored word a page shows is shown in words.
        let words = crate::archive::rules::Platform::ALL
            .iter()
            .map(|p| format!("platform_{}", p.as_str()))
            .chain(
                crate::erasure::rules::Ground::ALL
                    .iter()
                    .map(|g| format!("ground_{}", g.as_str())),
            )
            .chain(
                crate::erasure::rules::ItemKind::ALL
                    .iter()
                    .map(|k| format!("item_kind_{}", k.as_str())),
            )
            .chain(
                crate::consent::rules::TaskReason::ALL
                    .iter()
                    .map(|r| format!("task_reason_{}", r.as_str())),
            )
            .chain(
                crate::consent::rules::TaskAction::ALL
                    .iter()
                    .map(|a| format!("task_action_{}", a.as_str())),
            )
            .chain(
                crate::requests::rules::ProofMethod::ALL
                    .iter()
                    .map(|m| format!("method_{}", m.as_str())),
            )
            .chain(["possible", "confirmed", "rejected"].map(|m| format!("match_{m}")));
        for key in words {
            assert!(sv.contains_key(&key), "no text for {key}");
        }
        for name in ["home.html", "status.html", "queue.html", "plan.html"] {
            p.env.get_template(name).unwrap();
        }
    }
}
