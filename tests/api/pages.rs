//! The pages over plain HTTP (the browser tests drive them in Chromium): headers, languages, a form
//! that comes back with its errors, the status link, the officer's sign-in.
use crate::both_backends;
use crate::helpers::{Backend, spawn_app};

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// An officer's page as the browser with `session` (its cookie) gets it.
async fn officer_page(
    client: &reqwest::Client,
    app: &crate::helpers::TestApp,
    session: &str,
    path: &str,
) -> String {
    client
        .get(app.url(path))
        .header("cookie", session)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

both_backends!(
    pages_answer_in_html_with_their_errors_beside_the_fields,
    |b: Backend| async move {
        let app = spawn_app(b).await;
        let client = no_redirects();
        let home = client.get(app.url("/")).send().await.unwrap();
        assert_eq!(home.status(), 200);
        let h = home.headers();
        assert!(h["content-type"].to_str().unwrap().starts_with("text/html"));
        assert!(
            h["content-security-policy"]
                .to_str()
                .unwrap()
                .contains("default-src 'none'")
        );
        assert_eq!(h["referrer-policy"], "no-referrer");
        assert_eq!(h["cache-control"], "no-store");
        assert!(home.text().await.unwrap().contains("<html lang=\"sv\">"));
        let en = client
            .get(app.url("/?lang=en"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(en.contains("<html lang=\"en\">") && en.contains("Send a request"));

        // Mistakes come back next to their fields, with what was typed kept.
        let r = client
            .post(app.url("/requests"))
            .form(&[("type", "access"), ("email", "nej"), ("account0", "")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400);
        let page = r.text().await.unwrap();
        assert!(page.contains("id=\"email-error\""), "{page}");
        assert!(page.contains("id=\"account0-error\""));
        assert!(page.contains("aria-invalid=\"true\""));
        assert!(page.contains("value=\"nej\""));
        assert!(!page.contains("problem+json"));

        // A good one leads to the status page, whose link is the key.
        let r = client
            .post(app.url("/requests?lang=en"))
            .form(&[
                ("type", "erasure"),
                ("email", "anna@example.se"),
                ("platform0", "facebook"),
                ("account0", "https://www.facebook.com/anna.andersson"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303);
        let to = r.headers()["location"].to_str().unwrap().to_owned();
        assert!(
            to.starts_with("/requests/") && to.contains("token=dsr_"),
            "{to}"
        );
        let page = client
            .get(app.url(&to))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            page.contains("DSR-") && page.contains("Confirm your email address"),
            "{page}"
        );
        // The history is told in the page's language, not by its keys.
        assert!(page.contains("Request received"), "{page}");
        let sv = client
            .get(app.url(&to.replace("lang=en", "lang=sv")))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            sv.contains("Begäran mottagen") && !sv.contains(": received<"),
            "{sv}"
        );
        let wrong = to.replace("token=dsr_", "token=dsr_0");
        let r = client.get(app.url(&wrong)).send().await.unwrap();
        assert_eq!(r.status(), 404);
        assert!(r.text().await.unwrap().contains("<html"));
        // A later mail's link, without the token, asks for it, and the form it gives opens the case.
        let bare = to.split('?').next().unwrap().to_owned();
        let asks = client
            .get(app.url(&format!("{bare}?lang=en")))
            .send()
            .await
            .unwrap();
        assert_eq!(asks.status(), 200);
        let asks = asks.text().await.unwrap();
        assert!(
            asks.contains("Open your request") && asks.contains(&format!("action=\"{bare}\"")),
            "{asks}"
        );
        let token = to
            .split("token=")
            .nth(1)
            .unwrap()
            .split('&')
            .next()
            .unwrap();
        let opened = client
            .get(app.url(&bare))
            .query(&[("lang", "en"), ("token", &format!(" {token} "))])
            .send()
            .await
            .unwrap();
        assert_eq!(opened.status(), 200);
        assert!(opened.text().await.unwrap().contains("DSR-"));
        // Without `lang`, as the receipt's link has it, the page speaks the request's language.
        let english = client
            .get(app.url(&bare))
            .query(&[("token", token)])
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(english.contains("Request received"), "{english}");
        // It says nothing of whether a request exists.
        let none = client
            .get(app.url("/requests/999999?lang=en"))
            .send()
            .await
            .unwrap();
        assert_eq!(none.status(), 200);
        // An address or a form the page cannot read is answered with a page, never the API's JSON.
        let r = client
            .get(app.url("/requests/abc?token=dsr_0"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400);
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        assert!(r.text().await.unwrap().contains("Börja om från startsidan"));
        let r = client
            .post(app.url("/requests"))
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .await
            .unwrap();
        assert!(r.status().is_client_error(), "{}", r.status());
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        let r = client.put(app.url("/requests")).send().await.unwrap();
        assert_eq!(r.status(), 405);

        // The officer's pages need a sign-in; a wrong key is told so.
        let r = client.get(app.url("/officer")).send().await.unwrap();
        assert_eq!(r.status(), 303);
        assert!(
            r.headers()["location"]
                .to_str()
                .unwrap()
                .starts_with("/officer/login")
        );
        let r = client
            .post(app.url("/officer/login"))
            .form(&[("token", "insyn_nope")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
        let (_, archivist) = app.token("archivist").await;
        let r = client
            .post(app.url("/officer/login"))
            .form(&[("token", archivist.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "an archivist is not an officer");
        let (_, officer) = app.token("officer").await;
        let r = client
            .post(app.url("/officer/login"))
            .form(&[("token", officer.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303);
        let cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
        assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
        let session = cookie.split(';').next().unwrap().to_owned();
        let queue = client
            .get(app.url("/officer"))
            .header("cookie", &session)
            .send()
            .await
            .unwrap();
        assert_eq!(queue.status(), 200);
        let queue = queue.text().await.unwrap();
        assert!(queue.contains("DSR-"));
        // No filter by officer yet: the field is empty, not "none".
        assert!(queue.contains("name=\"assignee\" value=\"\""), "{queue}");
        // An objection is worked from the request's page to its end: Bo (502) replied on the Page.
        let ch = crate::archive::channel(&app, &archivist, "facebook", crate::consent::PAGE).await;
        let r = crate::archive::import(&app, &archivist, ch, &crate::consent::thread()).await;
        assert_eq!(r.status(), 200);
        let s: serde_json::Value = app
            .client
            .post(app.url("/api/v1/requests"))
            .json(
                &serde_json::json!({"type": "objection", "email": "bo@example.se",
                "identities": [{"platform": "facebook", "value": "502"},
                               {"platform": "facebook", "value": "777"}]}),
            )
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let id = s["id"].as_i64().unwrap();
        let page = officer_page(&client, &app, &session, &format!("/officer/requests/{id}")).await;
        // The status is told to the officer about the person, not to the person.
        assert!(
            page.contains("Väntar på att den sökande bekräftar sin e-postadress")
                && !page.contains("du bekräftar"),
            "{page}"
        );
        // The history's times are Stockholm's, not UTC's (an hour or two apart).
        let now = chrono::Utc::now().with_timezone(&chrono_tz::Europe::Stockholm);
        assert!(
            [now, now - chrono::Duration::minutes(1)]
                .iter()
                .any(|t| page.contains(&t.format("%Y-%m-%d %H:%M").to_string())),
            "{page}"
        );
        let csrf = page
            .split("name=\"csrf\" value=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap()
            .to_owned();
        // The officer ticks the accounts the proof covers: here Bo's, not the other one named.
        let view: serde_json::Value = app
            .client
            .get(app.url(&format!("/api/v1/requests/{id}")))
            .bearer_auth(&officer)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let account_of = |value: &str| {
            let a = view["identities"]
                .as_array()
                .unwrap()
                .iter()
                .find(|i| i["value"] == value)
                .unwrap();
            format!("account_{}", a["id"])
        };
        let (bos, other) = (account_of("502"), account_of("777"));
        assert!(
            page.contains(&format!("name=\"{bos}\""))
                && page.contains(&format!("name=\"{other}\"")),
            "{page}"
        );
        for (action, form) in [
            (
                "verify-identity",
                vec![("method", "e_id"), ("choose_accounts", "1")],
            ),
            (
                "verify-identity",
                vec![
                    ("method", "e_id"),
                    ("choose_accounts", "1"),
                    (bos.as_str(), "on"),
                ],
            ),
            ("assign", vec![("assignee", "")]),
            ("assign", vec![("assignee", "dpo")]),
            ("carry-out", vec![]),
        ] {
            let mut fields = form.clone();
            fields.push(("csrf", csrf.as_str()));
            let r = client
                .post(app.url(&format!("/officer/requests/{id}/{action}")))
                .header("cookie", &session)
                .form(&fields)
                .send()
                .await
                .unwrap();
            if form == vec![("assignee", "")] {
                assert_eq!(r.status(), 400, "an assignee is needed");
                let page = r.text().await.unwrap();
                assert!(page.contains("id=\"assignee-error\""));
            } else if form.len() == 2 && action == "verify-identity" {
                assert_eq!(r.status(), 400, "an account is to be ticked");
                let page = r.text().await.unwrap();
                assert!(page.contains("id=\"verify-accounts-error\""), "{page}");
            } else {
                assert_eq!(r.status(), 303, "{action}");
            }
        }
        let v: serde_json::Value = app
            .client
            .get(app.url(&format!("/api/v1/requests/{id}")))
            .bearer_auth(&officer)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(v["status"], "completed");
        let verified: Vec<&str> = v["identities"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i.get("verified_at").is_some())
            .map(|i| i["value"].as_str().unwrap())
            .collect();
        assert_eq!(verified, ["502"], "{v}");
        // The citizen's page gives the answer: what was done, and what was not and why. The
        // officer's proof replaced the token given at submission with one mailed to the address.
        let given = s["status_token"].as_str().unwrap();
        let token = crate::requests::mailed_status_token(&app, "bo@example.se").await;
        assert_ne!(token, given);
        let mine = client
            .get(app.url(&format!("/requests/{id}")))
            .query(&[("token", token.as_str())])
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            mine.contains("Publiceringen upphör") && mine.contains("Arkiveringen fortsätter"),
            "{mine}"
        );
        // The history names who did what in words: the requester, and the officer by the token's
        // name, not "citizen" or "token:2".
        let page = officer_page(&client, &app, &session, &format!("/officer/requests/{id}")).await;
        assert!(page.contains("<td>Den sökande</td>"), "{page}");
        assert!(page.contains("<td>officer token</td>"), "{page}");
        assert!(!page.contains("<td>token:"), "{page}");

        // A form without its token is refused.
        let r = client
            .post(app.url("/officer/requests/1/notes"))
            .header("cookie", &session)
            .form(&[("text", "x"), ("csrf", "forged")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403);
    }
);

both_backends!(
    a_rate_limited_citizen_gets_a_page_saying_when_to_try_again,
    |b: Backend| async move {
        let app = crate::helpers::spawn_app_with(b, |s| s.public_rate_limit = 1).await;
        let client = no_redirects();
        let send = || {
            client
                .post(app.url("/requests"))
                .form(&[
                    ("type", "access"),
                    ("email", "anna@example.se"),
                    ("platform0", "facebook"),
                    ("account0", "501"),
                ])
                .send()
        };
        assert_eq!(send().await.unwrap().status(), 303);
        let r = send().await.unwrap();
        assert_eq!(r.status(), 429);
        let wait: u64 = r.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(wait > 0);
        let page = r.text().await.unwrap();
        assert!(page.contains("<html lang=\"sv\">"));
        assert!(
            page.contains(&format!("Försök igen om {wait} sekunder")),
            "{page}"
        );
        // The way back is to where the citizen was: the form, or the request's page.
        let page = unescaped(&page);
        assert!(
            page.contains("<a href=\"/?lang=sv\">Tillbaka</a>"),
            "{page}"
        );
        let r = client
            .post(app.url("/requests/7/verify?lang=en"))
            .form(&[("token", "dsr_abc"), ("code", "12345678")])
            .send()
            .await
            .unwrap();
        let page = unescaped(&page_of(r, 429).await);
        assert!(
            page.contains("<a href=\"/requests/7?token=dsr_abc&lang=en\">Back</a>"),
            "{page}"
        );
        assert!(
            page.contains("href=\"/requests/7?token=dsr_abc&lang=sv\""),
            "{page}"
        );
    }
);

both_backends!(
    the_key_page_takes_a_whole_link_pasted_from_the_mail,
    |b: Backend| async move {
        let app = spawn_app(b).await;
        let client = no_redirects();
        let (id, token) = submitted(&app, "anna@example.se", "sv").await;
        let key = page_of(
            client
                .get(app.url(&format!("/requests/{id}")))
                .send()
                .await
                .unwrap(),
            200,
        )
        .await;
        assert!(key.contains("Klistra in hela länken"), "{key}");
        // The receipt's link, pasted whole (with the mail's base and a language of its own).
        let link = format!("{}/requests/{id}?token={token}&lang=sv", app.base);
        let r = client
            .get(app.url(&format!("/requests/{id}")))
            .query(&[("lang", "en"), ("token", &format!(" {link} "))])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303);
        let to = r.headers()["location"].to_str().unwrap().to_owned();
        assert_eq!(to, format!("/requests/{id}?token={token}&lang=en"));
        let page = page_of(client.get(app.url(&to)).send().await.unwrap(), 200).await;
        assert!(page.contains("Confirm your email address"), "{page}");
        // A link to another of the person's requests, pasted on this one's key page, opens that one.
        let (other, other_token) = submitted(&app, "anna.b@example.se", "en").await;
        assert_ne!(other, id);
        let r = client
            .get(app.url(&format!("/requests/{id}")))
            .query(&[(
                "token",
                format!("{}/requests/{other}?token={other_token}", app.base),
            )])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303);
        assert_eq!(
            r.headers()["location"],
            format!("/requests/{other}?token={other_token}").as_str()
        );
        // The key alone still opens it.
        let r = client
            .get(app.url(&format!("/requests/{id}")))
            .query(&[("token", token.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
);

/// Signs in at `/officer/login` with `token`; the session cookie (`name=value`).
async fn sign_in(app: &crate::helpers::TestApp, token: &str) -> String {
    let r = no_redirects()
        .post(app.url("/officer/login"))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    cookie.split(';').next().unwrap().to_owned()
}

/// The status of the officer's queue page with `cookie`: 200, or 303 to the sign-in.
async fn queue_with(app: &crate::helpers::TestApp, cookie: &str) -> u16 {
    no_redirects()
        .get(app.url("/officer"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

both_backends!(
    the_officer_cookie_holds_a_session_not_the_token_and_signing_out_or_revoking_ends_it,
    |b: Backend| async move {
        let app = spawn_app(b).await;
        let (token_id, officer) = app.token("officer").await;
        let session = sign_in(&app, &officer).await;
        assert!(
            !session.contains(&officer),
            "the API token went to the browser"
        );
        assert_eq!(queue_with(&app, &session).await, 200);
        // The API token itself is no session.
        assert_eq!(
            queue_with(&app, &format!("insyn_officer={officer}")).await,
            303
        );

        // Signing out ends the session on the server, not only in this browser.
        let r = no_redirects()
            .post(app.url("/officer/logout"))
            .header("cookie", &session)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303);
        assert_eq!(queue_with(&app, &session).await, 303);

        // Revoking the token ends its sessions.
        let again = sign_in(&app, &officer).await;
        assert_eq!(queue_with(&app, &again).await, 200);
        let r = app
            .post_json(
                &format!("/api/v1/tokens/{token_id}/revoke"),
                &app.admin,
                &serde_json::json!({}),
            )
            .await;
        assert!(r.status().is_success(), "{}", r.status());
        assert_eq!(queue_with(&app, &again).await, 303);

        // Both sessions are in the audit log, by id only.
        let log = crate::archive::get(&app, &app.admin, "/api/v1/audit?action=session.open").await;
        let entries = log["entries"].as_array().unwrap();
        assert_eq!(entries.len(), 2, "{log}");
        assert!(!log.to_string().contains(&officer));
    }
);

/// The form token on an officer's page.
fn csrf_in(page: &str) -> String {
    page.split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the page has a form")
        .to_owned()
}

/// Posts the officer's form `fields` (and the form token) to `path` with `session`.
async fn post_form(
    app: &crate::helpers::TestApp,
    session: &str,
    path: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let client = no_redirects();
    let page = officer_page(&client, app, session, "/officer").await;
    let csrf = csrf_in(&page);
    let mut fields = fields.to_vec();
    fields.push(("csrf", &csrf));
    client
        .post(app.url(path))
        .header("cookie", session)
        .form(&fields)
        .send()
        .await
        .unwrap()
}

/// Submits an access request from `email` through the API: its id and status token.
async fn submitted(app: &crate::helpers::TestApp, email: &str, lang: &str) -> (i64, String) {
    let s: serde_json::Value = app
        .client
        .post(app.url("/api/v1/requests"))
        .json(
            &serde_json::json!({"type": "access", "email": email, "language": lang,
            "identities": [{"platform": "linkedin", "value": "anna-a"}]}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    (
        s["id"].as_i64().unwrap(),
        s["status_token"].as_str().unwrap().to_owned(),
    )
}

both_backends!(
    the_officer_reads_what_each_history_entry_says,
    |b: Backend| async move {
        let app = spawn_app(b).await;
        let (_, officer) = app.token("officer").await;
        let session = sign_in(&app, &officer).await;
        let (id, _) = submitted(&app, "anna@example.se", "sv").await;
        let at = format!("/officer/requests/{id}");
        for (action, fields) in [
            (
                "notes",
                vec![(
                    "text",
                    "Ringde Anna, hon skickar en kopia av legitimationen.",
                )],
            ),
            (
                "verify-identity",
                vec![("method", "letter"), ("note", "Kopia av pass.")],
            ),
            ("assign", vec![("assignee", "dpo")]),
            (
                "extend",
                vec![("months", "2"), ("reason", "Många poster att gå igenom.")],
            ),
            ("refuse", vec![("reason", "Begäran är uppenbart ogrundad.")]),
        ] {
            let r = post_form(&app, &session, &format!("{at}/{action}"), &fields).await;
            assert_eq!(r.status(), 303, "{action}: {}", r.text().await.unwrap());
        }
        let page = officer_page(&no_redirects(), &app, &session, &at).await;
        // The actor's column is headed as what it holds.
        assert!(page.contains("<th scope=\"col\">Vem</th>"), "{page}");
        assert!(
            !page.contains("<th scope=\"col\">Handläggare</th>"),
            "{page}"
        );
        for said in [
            "Ringde Anna, hon skickar en kopia av legitimationen.",
            "Sätt: Brev. Konton: alla som begäran anger. Anteckning: Kopia av pass.",
            "Till dpo.",
            "Med 2 månader, till ",
            "Skäl: Många poster att gå igenom.",
            "Skäl: Begäran är uppenbart ogrundad.",
        ] {
            assert!(page.contains(said), "{said} is not in {page}");
        }
        // The facts hold the reasons given, and how the account was shown to be hers.
        assert!(
            page.contains("<dt>Skäl för förlängning</dt><dd>Många poster att gå igenom.</dd>"),
            "{page}"
        );
        assert!(
            page.contains("<dt>Skäl för avslag</dt><dd>Begäran är uppenbart ogrundad.</dd>"),
            "{page}"
        );
        assert!(
            page.contains("LinkedIn: anna-a – bekräftat av handläggaren (Brev)"),
            "{page}"
        );

        // A completed request shows the answer the person was sent.
        let (id, _) = submitted(&app, "bo@example.se", "en").await;
        let at = format!("/officer/requests/{id}");
        for (action, fields) in [
            ("verify-identity", vec![("method", "e_id")]),
            ("assign", vec![("assignee", "dpo")]),
            (
                "complete",
                vec![("summary", "Here is everything we hold about you.")],
            ),
        ] {
            let r = post_form(&app, &session, &format!("{at}/{action}"), &fields).await;
            assert_eq!(r.status(), 303, "{action}");
        }
        let page = officer_page(&no_redirects(), &app, &session, &format!("{at}?lang=en")).await;
        assert!(page.contains("The answer sent to the person"), "{page}");
        assert!(
            page.contains("<p class=\"said\">Here is everything we hold about you.</p>"),
            "{page}"
        );
        assert!(page.contains("<th scope=\"col\">Who</th>"), "{page}");
    }
);

/// `page` with the escapes the templates put in attributes undone.
fn unescaped(page: &str) -> String {
    page.replace("&#x2f;", "/").replace("&amp;", "&")
}

/// The text of the response, which must have `status`.
async fn page_of(r: reqwest::Response, status: u16) -> String {
    let got = r.status().as_u16();
    let page = r.text().await.unwrap();
    assert_eq!(got, status, "{page}");
    page
}

both_backends!(
    a_swedish_page_tells_what_could_not_be_done_in_swedish,
    |b: Backend| async move {
        use sea_orm::{ActiveModelTrait, EntityTrait, Set};
        let app = spawn_app(b).await;
        let (_, officer) = app.token("officer").await;
        let session = sign_in(&app, &officer).await;
        let (id, token) = submitted(&app, "anna@example.se", "sv").await;
        let at = format!("/officer/requests/{id}");

        // The citizen has used up the codes: told so in Swedish, beside the code.
        let r = entities::request::Entity::find_by_id(id)
            .one(&app.db)
            .await
            .unwrap()
            .unwrap();
        let mut a: entities::request::ActiveModel = r.into();
        a.codes_sent = Set(5);
        a.code_sent_at = Set(None);
        a.update(&app.db).await.unwrap();
        let r = no_redirects()
            .post(app.url(&format!("/requests/{id}/code")))
            .form(&[("token", token.as_str())])
            .send()
            .await
            .unwrap();
        let page = page_of(r, 409).await;
        assert!(
            page.contains("Det går inte att skicka fler koder för den här begäran."),
            "{page}"
        );
        assert!(!page.contains("no more codes"), "{page}");

        // Completing a request nobody has taken on says what and why, in Swedish.
        let r = post_form(
            &app,
            &session,
            &format!("{at}/verify-identity"),
            &[("method", "e_id")],
        )
        .await;
        assert_eq!(r.status(), 303);
        let r = post_form(
            &app,
            &session,
            &format!("{at}/complete"),
            &[("summary", "Här är allt.")],
        )
        .await;
        let page = page_of(r, 409).await;
        assert!(
            page.contains("Det går inte att slutföra ärendet nu. Ärendets status är ”Bekräftad, väntar på handläggning”."),
            "{page}"
        );
        assert!(!page.contains("cannot be"), "{page}");
        // The English page keeps the store's words.
        let r = post_form(
            &app,
            &session,
            &format!("{at}/complete?lang=en"),
            &[("summary", "Here.")],
        )
        .await;
        let page = page_of(r, 409).await;
        assert!(
            page.contains(
                "That is not possible now: a request that is verified cannot be completed"
            ),
            "{page}"
        );

        // Extensions: at most two months in all, and only before the original due date.
        let r = post_form(
            &app,
            &session,
            &format!("{at}/assign"),
            &[("assignee", "dpo")],
        )
        .await;
        assert_eq!(r.status(), 303);
        let r = post_form(
            &app,
            &session,
            &format!("{at}/extend"),
            &[("months", "2"), ("reason", "Många poster.")],
        )
        .await;
        assert_eq!(r.status(), 303);
        let r = post_form(
            &app,
            &session,
            &format!("{at}/extend"),
            &[("months", "1"), ("reason", "Ännu fler.")],
        )
        .await;
        let page = page_of(r, 400).await;
        assert!(
            page.contains("Svarstiden kan förlängas med högst två månader sammanlagt. Redan beviljat: 2 månader."),
            "{page}"
        );
        let r = entities::request::Entity::find_by_id(id)
            .one(&app.db)
            .await
            .unwrap()
            .unwrap();
        let mut a: entities::request::ActiveModel = r.into();
        a.due_at = Set(chrono::Utc::now().date_naive() - chrono::Duration::days(3));
        a.extension_months = Set(0);
        a.update(&app.db).await.unwrap();
        let r = post_form(
            &app,
            &session,
            &format!("{at}/extend"),
            &[("months", "1"), ("reason", "Sent.")],
        )
        .await;
        let page = page_of(r, 409).await;
        assert!(
            page.contains("Svarstiden kan bara förlängas före det ursprungliga sista svarsdatumet"),
            "{page}"
        );
        assert!(!page.contains("original due date"), "{page}");
    }
);

both_backends!(
    a_restriction_is_lifted_from_its_page_and_any_request_opens_by_its_reference,
    |b: Backend| async move {
        let app = spawn_app(b).await;
        let (_, archivist) = app.token("archivist").await;
        let (_, officer) = app.token("officer").await;
        let session = sign_in(&app, &officer).await;
        // Bo (502) replied on the Page: his records are what a restriction restricts.
        let ch = crate::archive::channel(&app, &archivist, "facebook", crate::consent::PAGE).await;
        let r = crate::archive::import(&app, &archivist, ch, &crate::consent::thread()).await;
        assert_eq!(r.status(), 200);
        let s: serde_json::Value = app
            .client
            .post(app.url("/api/v1/requests"))
            .json(
                &serde_json::json!({"type": "restriction", "email": "bo@example.se",
                "identities": [{"platform": "facebook", "value": "502"}]}),
            )
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let id = s["id"].as_i64().unwrap();
        let reference = s["reference"].as_str().unwrap().to_owned();
        let at = format!("/officer/requests/{id}");
        for (action, fields) in [
            ("verify-identity", vec![("method", "e_id")]),
            ("assign", vec![("assignee", "dpo")]),
            ("carry-out", vec![]),
        ] {
            let r = post_form(&app, &session, &format!("{at}/{action}"), &fields).await;
            assert_eq!(r.status(), 303, "{action}");
        }
        let page = officer_page(&no_redirects(), &app, &session, &at).await;
        assert!(page.contains("Begränsningen gäller"), "{page}");
        assert!(
            page.contains(&format!("action=\"{at}/lift-restriction?lang=sv\"")),
            "{page}"
        );
        let r = post_form(&app, &session, &format!("{at}/lift-restriction"), &[]).await;
        assert_eq!(r.status(), 303);
        let view = crate::archive::get(&app, &officer, &format!("/api/v1/requests/{id}")).await;
        assert!(
            view["history"]
                .as_array()
                .unwrap()
                .iter()
                .any(|h| h["kind"] == "restriction_lifted"),
            "{view}"
        );
        let page = officer_page(&no_redirects(), &app, &session, &at).await;
        assert!(
            !page.contains("/lift-restriction"),
            "lifted: nothing more to lift"
        );
        assert!(page.contains("Begränsningen hävd"), "{page}");
        // Lifted twice (a second tab): told in Swedish.
        let r = post_form(&app, &session, &format!("{at}/lift-restriction"), &[]).await;
        let page = page_of(r, 409).await;
        assert!(page.contains("Begränsningen är redan hävd."), "{page}");

        // The request is closed, so not in the queue; its reference opens it, typed as it comes.
        let queue = officer_page(&no_redirects(), &app, &session, "/officer").await;
        assert!(!queue.contains(&reference), "{queue}");
        assert!(queue.contains("action=\"/officer/find\""), "{queue}");
        for typed in [
            reference.to_lowercase(),
            format!(" {reference} "),
            id.to_string(),
        ] {
            let r = no_redirects()
                .get(app.url("/officer/find"))
                .query(&[("q", typed.as_str()), ("lang", "sv")])
                .header("cookie", &session)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 303, "{typed}");
            assert_eq!(r.headers()["location"], format!("{at}?lang=sv"));
        }
        let r = no_redirects()
            .get(app.url("/officer/find?q=DSR-1999-999999"))
            .header("cookie", &session)
            .send()
            .await
            .unwrap();
        let page = page_of(r, 404).await;
        assert!(page.contains("id=\"find-error\""), "{page}");
        assert!(page.contains("DSR-1999-999999"), "{page}");
        // Only for an officer.
        let r = no_redirects()
            .get(app.url(&format!("/officer/find?q={reference}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303);
        assert!(
            r.headers()["location"]
                .to_str()
                .unwrap()
                .starts_with("/officer/login")
        );
    }
);

both_backends!(
    a_request_sent_twice_gets_a_receipt_not_an_error,
    |b: Backend| async move {
        let app = spawn_app(b).await;
        let send = || {
            no_redirects()
                .post(app.url("/requests"))
                .form(&[
                    ("type", "access"),
                    ("email", "anna@example.se"),
                    ("platform0", "facebook"),
                    ("account0", "501"),
                ])
                .send()
        };
        let first = send().await.unwrap();
        assert_eq!(first.status(), 303);
        let page = page_of(send().await.unwrap(), 200).await;
        use sea_orm::EntityTrait;
        let reference: String = entities::request::Entity::find()
            .one(&app.db)
            .await
            .unwrap()
            .unwrap()
            .reference;
        assert!(page.contains("Din begäran är redan mottagen"), "{page}");
        assert!(page.contains(&format!("<dd>{reference}</dd>")), "{page}");
        assert!(
            page.contains("Vi har skickat ett mejl till dig om det."),
            "{page}"
        );
        assert!(page.contains("länken i det senaste mejlet"), "{page}");
        assert!(
            !page.contains("Det gick inte") && !page.contains("role=\"alert\""),
            "{page}"
        );
    }
);

both_backends!(
    a_citizen_action_that_fails_says_why_wherever_it_arose,
    |b: Backend| async move {
        let app = spawn_app(b).await;
        let (_, officer) = app.token("officer").await;
        let session = sign_in(&app, &officer).await;
        let (id, _) = submitted(&app, "anna@example.se", "sv").await;
        let at = format!("/officer/requests/{id}");
        for (action, fields) in [
            ("verify-identity", vec![("method", "e_id")]),
            ("assign", vec![("assignee", "dpo")]),
        ] {
            let r = post_form(&app, &session, &format!("{at}/{action}"), &fields).await;
            assert_eq!(r.status(), 303, "{action}");
        }
        // The officer has taken it on: it can no longer be withdrawn, and the page says so.
        let token = crate::requests::mailed_status_token(&app, "anna@example.se").await;
        let r = no_redirects()
            .post(app.url(&format!("/requests/{id}/cancel")))
            .form(&[("token", token.as_str()), ("confirm", "yes")])
            .send()
            .await
            .unwrap();
        let page = page_of(r, 409).await;
        assert!(
            page.contains("Det går inte att återkalla begäran nu. Ärendets status är ”Handläggs”."),
            "{page}"
        );
        assert!(page.contains("role=\"alert\""), "{page}");
        // And asking for a code it no longer needs.
        let r = no_redirects()
            .post(app.url(&format!("/requests/{id}/code?lang=en")))
            .form(&[("token", token.as_str())])
            .send()
            .await
            .unwrap();
        let page = page_of(r, 409).await;
        assert!(
            page.contains("That is not possible now: the request is in_progress and needs no code"),
            "{page}"
        );
    }
);

both_backends!(
    the_pages_show_words_not_stored_keys,
    |b: Backend| async move {
        let app = spawn_app(b).await;
        let client = no_redirects();
        // Platforms by their names, in the page's language.
        let home = page_of(client.get(app.url("/")).send().await.unwrap(), 200).await;
        for name in [">LinkedIn<", ">YouTube<", ">Annan<", ">X<"] {
            assert!(home.contains(name), "{name}: {home}");
        }
        assert!(
            !home.contains(">Linkedin<") && !home.contains(">Other<"),
            "{home}"
        );
        let en = page_of(client.get(app.url("/?lang=en")).send().await.unwrap(), 200).await;
        assert!(en.contains(">Other<"), "{en}");
        // A form without a request type says so; errors are prefixed in the page's language.
        let r = client
            .post(app.url("/requests?lang=en"))
            .form(&[("email", "anna@example.se"), ("account0", "501")])
            .send()
            .await
            .unwrap();
        let page = page_of(r, 400).await;
        assert!(
            page.contains(
                "<span class=\"visually-hidden\">Error: </span>Choose what you are asking for."
            ),
            "{page}"
        );
        assert!(!page.contains("Fel: "), "{page}");

        // The officer's pages: an erasure planned for Bo (502), who replied on the Page.
        let Planned { session, at, .. } = planned_erasure(&app).await;
        let page = officer_page(&client, &app, &session, &format!("{at}?lang=en")).await;
        assert!(page.contains("<dt>Registration number</dt>"), "{page}");
        assert!(!page.contains("Diarienummer"), "{page}");
        let plan = officer_page(&client, &app, &session, &format!("{at}/plan")).await;
        assert!(plan.contains("Allmän handling"), "{plan}");
        assert!(plan.contains("<span class=\"sub\">Post "), "{plan}");
        for key in ["public_document", "<code>", ">record ", "profile_details"] {
            assert!(!plan.contains(key), "{key}: {plan}");
        }
        // Approving opens take-downs, which are told in words.
        let plan_form = post_form(
            &app,
            &session,
            &format!("{at}/approve"),
            &[("confirm", "yes")],
        )
        .await;
        assert_eq!(plan_form.status(), 303);
        let tasks = officer_page(&client, &app, &session, "/officer/tasks").await;
        assert!(tasks.contains("<td>Radering<br>"), "{tasks}");
        assert!(
            tasks.contains("Ta bort:") || tasks.contains("Dölj:"),
            "{tasks}"
        );
        assert!(
            !tasks.contains("erasure") && !tasks.contains("remove:"),
            "{tasks}"
        );

        // A request that is not there: the officer's words, with the officer's navigation.
        let r = client
            .get(app.url("/officer/requests/999999"))
            .header("cookie", &session)
            .send()
            .await
            .unwrap();
        let page = page_of(r, 404).await;
        assert!(
            page.contains("Ärendet, planen eller posten finns inte."),
            "{page}"
        );
        assert!(!page.contains("Länken gäller inte"), "{page}");
        assert!(page.contains("Logga ut"), "{page}");
        // A form from an earlier session has expired; the key was never wrong.
        let r = client
            .post(app.url(&format!("{at}/notes")))
            .header("cookie", &session)
            .form(&[("text", "x"), ("csrf", "from-an-old-session")])
            .send()
            .await
            .unwrap();
        let page = page_of(r, 403).await;
        assert!(page.contains("Formuläret har gått ut."), "{page}");
        assert!(!page.contains("Nyckeln stämmer inte"), "{page}");
        assert!(page.contains("Logga ut"), "{page}");
    }
);

/// The `Set-Cookie` headers of `r` that set `name`.
fn set_cookies(r: &reqwest::Response, name: &str) -> Vec<String> {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .filter(|c| c.starts_with(&format!("{name}=")))
        .collect()
}

both_backends!(
    a_saved_link_does_not_say_again_what_was_just_done,
    |b: Backend| async move {
        let app = spawn_app(b).await;
        let client = no_redirects();
        let r = client
            .post(app.url("/requests"))
            .form(&[
                ("type", "access"),
                ("email", "anna@example.se"),
                ("platform0", "facebook"),
                ("account0", "501"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303);
        let to = r.headers()["location"].to_str().unwrap().to_owned();
        // The address is the link to keep: it says nothing of what just happened.
        assert!(!to.contains("submitted") && !to.contains("done"), "{to}");
        let id = to
            .trim_start_matches("/requests/")
            .split('?')
            .next()
            .unwrap()
            .to_owned();
        let token = to
            .split("token=")
            .nth(1)
            .unwrap()
            .split('&')
            .next()
            .unwrap();
        // The page there says it once, told by a cookie for that page alone that holds no token.
        let set = set_cookies(&r, "insyn_flash");
        assert_eq!(set.len(), 1, "{set:?}");
        let flash = &set[0];
        assert!(flash.starts_with("insyn_flash=submitted;"), "{flash}");
        for part in [
            format!("Path=/requests/{id};"),
            "HttpOnly".into(),
            "SameSite=Strict".into(),
            "Max-Age=".into(),
        ] {
            assert!(flash.contains(&part), "{part}: {flash}");
        }
        assert!(!flash.contains(token));
        let r = client
            .get(app.url(&to))
            .header("cookie", "insyn_flash=submitted")
            .send()
            .await
            .unwrap();
        let cleared = set_cookies(&r, "insyn_flash");
        assert_eq!(cleared.len(), 1, "{cleared:?}");
        assert!(
            cleared[0].contains("Max-Age=0")
                && cleared[0].contains(&format!("Path=/requests/{id}"))
        );
        let page = page_of(r, 200).await;
        assert!(page.contains("Tack! Din begäran är mottagen."), "{page}");
        // Opened again from the saved link: no thanks again, nor from a link saved before.
        for again in [to.clone(), format!("{to}&submitted=1&done=verified")] {
            let page = page_of(client.get(app.url(&again)).send().await.unwrap(), 200).await;
            assert!(
                !page.contains("Tack!") && !page.contains("class=\"flash\""),
                "{page}"
            );
        }
        // A new code's word comes the same way (the minute between codes is let pass).
        {
            use sea_orm::{ActiveModelTrait, EntityTrait, Set};
            let r = entities::request::Entity::find_by_id(id.parse::<i64>().unwrap())
                .one(&app.db)
                .await
                .unwrap()
                .unwrap();
            let mut a: entities::request::ActiveModel = r.into();
            a.code_sent_at = Set(None);
            a.update(&app.db).await.unwrap();
        }
        let r = client
            .post(app.url(&format!("/requests/{id}/code")))
            .form(&[("token", token)])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303);
        assert!(!r.headers()["location"].to_str().unwrap().contains("done"));
        assert!(set_cookies(&r, "insyn_flash")[0].starts_with("insyn_flash=code;"));

        // The officer's "Klart." comes the same way.
        let (_, officer) = app.token("officer").await;
        let session = sign_in(&app, &officer).await;
        let r = post_form(
            &app,
            &session,
            &format!("/officer/requests/{id}/notes"),
            &[("text", "Ringt.")],
        )
        .await;
        assert_eq!(r.status(), 303);
        let to = r.headers()["location"].to_str().unwrap().to_owned();
        assert_eq!(to, format!("/officer/requests/{id}?lang=sv"));
        let set = set_cookies(&r, "insyn_flash");
        assert!(
            set[0].starts_with("insyn_flash=done;") && set[0].contains("Path=/officer;"),
            "{set:?}"
        );
        let shown = officer_page(&client, &app, &format!("{session}; insyn_flash=done"), &to).await;
        assert!(
            shown.contains("<p class=\"flash\" role=\"status\">Klart.</p>"),
            "{shown}"
        );
        let again = officer_page(&client, &app, &session, &to).await;
        assert!(!again.contains("class=\"flash\""), "{again}");
    }
);

both_backends!(
    withdrawing_a_request_and_approving_an_erasure_each_take_a_ticked_box,
    |b: Backend| async move {
        let app = spawn_app(b).await;
        let client = no_redirects();
        let (id, token) = submitted(&app, "anna@example.se", "sv").await;
        let status = || async {
            crate::archive::get(&app, &app.admin, &format!("/api/v1/requests/{id}")).await["status"]
                .as_str()
                .unwrap()
                .to_owned()
        };
        let cancel = |confirm: &'static str| {
            client
                .post(app.url(&format!("/requests/{id}/cancel")))
                .form(&[("token", token.as_str()), ("confirm", confirm)])
                .send()
        };
        let page = page_of(cancel("").await.unwrap(), 400).await;
        assert!(page.contains("id=\"confirm-cancel-error\""), "{page}");
        assert!(
            page.contains("Kryssa i rutan om du vill återkalla begäran."),
            "{page}"
        );
        assert_eq!(status().await, "awaiting_verification");
        assert_eq!(cancel("yes").await.unwrap().status(), 303);
        assert_eq!(status().await, "cancelled");

        // The erasure plan: computing it again and approving it are apart, and approving needs the box.
        let Planned {
            session,
            at,
            id,
            officer,
            ..
        } = planned_erasure(&app).await;
        let plan = officer_page(&client, &app, &session, &format!("{at}/plan")).await;
        let recompute = plan.find(&format!("action=\"{at}/plan?lang=sv\"")).unwrap();
        let approve = plan
            .find(&format!("action=\"{at}/approve?lang=sv\""))
            .unwrap();
        let between = &plan[recompute..approve];
        assert!(
            between.contains("<h2 id=\"approve\">Godkänn planen</h2>"),
            "{plan}"
        );
        let page = page_of(
            post_form(&app, &session, &format!("{at}/approve"), &[]).await,
            400,
        )
        .await;
        assert!(page.contains("id=\"confirm-approve-error\""), "{page}");
        assert_eq!(
            crate::archive::get(&app, &officer, &format!("/api/v1/requests/{id}")).await["status"],
            "awaiting_approval"
        );
        let r = post_form(
            &app,
            &session,
            &format!("{at}/approve"),
            &[("confirm", "yes")],
        )
        .await;
        assert_eq!(r.status(), 303);
        assert_eq!(
            crate::archive::get(&app, &officer, &format!("/api/v1/requests/{id}")).await["status"],
            "completed"
        );
    }
);

both_backends!(
    an_unknown_word_in_an_action_decides_nothing,
    |b: Backend| async move {
        use sea_orm::ConnectionTrait;
        let app = spawn_app(b).await;
        let Planned {
            session,
            at,
            id,
            officer,
            archivist,
        } = planned_erasure(&app).await;
        let plan =
            crate::archive::get(&app, &officer, &format!("/api/v1/requests/{id}/plan")).await;
        let item = plan["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["decision"] == "erase")
            .unwrap()["id"]
            .as_i64()
            .unwrap();
        let r = post_form(
            &app,
            &session,
            &format!("{at}/plan/items/{item}/whatever"),
            &[("reason", "Nej.")],
        )
        .await;
        page_of(r, 404).await;
        let plan =
            crate::archive::get(&app, &officer, &format!("/api/v1/requests/{id}/plan")).await;
        assert_eq!(plan["totals"]["excluded"], 0, "{plan}");
        // A possible match's word, likewise: none is there, and the word is looked at first.
        let r = post_form(&app, &session, &format!("{at}/matches/1/maybe"), &[]).await;
        page_of(r, 404).await;

        // A take-down closed with a status the form does not offer stays open.
        let r = post_form(
            &app,
            &session,
            &format!("{at}/approve"),
            &[("confirm", "yes")],
        )
        .await;
        assert_eq!(r.status(), 303);
        let tasks =
            crate::archive::get(&app, &archivist, "/api/v1/unpublish-tasks?status=open").await;
        let task = tasks["tasks"][0]["id"]
            .as_i64()
            .expect("a take-down is open");
        let r = post_form(
            &app,
            &session,
            &format!("/officer/tasks/{task}/close"),
            &[("status", "whatever"), ("note", "")],
        )
        .await;
        let page = page_of(r, 400).await;
        assert!(
            page.contains(&format!("id=\"status-{task}-error\"")),
            "{page}"
        );
        let open =
            crate::archive::get(&app, &archivist, "/api/v1/unpublish-tasks?status=open").await;
        assert!(
            open["tasks"]
                .as_array()
                .unwrap()
                .iter()
                .any(|t| t["id"] == task),
            "{open}"
        );

        // The list cannot be read: told as a failure, not as nothing to take down.
        app.db
            .execute_unprepared("ALTER TABLE unpublish_task RENAME TO unpublish_task_away")
            .await
            .unwrap();
        let r = no_redirects()
            .get(app.url("/officer/tasks"))
            .header("cookie", &session)
            .send()
            .await
            .unwrap();
        let page = page_of(r, 500).await;
        assert!(!page.contains("Inget att ta bort."), "{page}");
        assert!(page.contains("Något gick fel hos oss."), "{page}");
    }
);

both_backends!(
    an_address_a_page_cannot_read_leads_back_where_its_reader_came_from,
    |b: Backend| async move {
        let app = spawn_app(b).await;
        let client = no_redirects();
        // A citizen's page leads back to the home page; an officer's to the queue.
        for (path, words, home) in [
            ("/requests/abc", "Börja om från startsidan", "href=\"/\""),
            (
                "/officer/requests/abc",
                "Börja om från ärendelistan",
                "href=\"/officer\"",
            ),
        ] {
            let r = client.get(app.url(path)).send().await.unwrap();
            assert_eq!(r.status(), 400, "{path}");
            let page = r.text().await.unwrap().replace("&#x2f;", "/");
            let back = format!("{home}>Tillbaka</a>");
            assert!(
                page.contains(words) && page.contains(&back),
                "{path}: {page}"
            );
        }
    }
);

/// Bo's erasure over the consent tests' thread, verified, assigned and planned through the
/// officer's pages.
struct Planned {
    /// The officer's session cookie.
    session: String,
    /// The request's officer page.
    at: String,
    id: i64,
    officer: String,
    archivist: String,
}

async fn planned_erasure(app: &crate::helpers::TestApp) -> Planned {
    let (_, archivist) = app.token("archivist").await;
    let (_, officer) = app.token("officer").await;
    let session = sign_in(app, &officer).await;
    let ch = crate::archive::channel(app, &archivist, "facebook", crate::consent::PAGE).await;
    let r = crate::archive::import(app, &archivist, ch, &crate::consent::thread()).await;
    assert_eq!(r.status(), 200);
    let s: serde_json::Value = app
        .client
        .post(app.url("/api/v1/requests"))
        .json(
            &serde_json::json!({"type": "erasure", "email": "bo@example.se",
            "identities": [{"platform": "facebook", "value": "502"}]}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = s["id"].as_i64().unwrap();
    let at = format!("/officer/requests/{id}");
    for (action, fields) in [
        ("verify-identity", vec![("method", "e_id")]),
        ("assign", vec![("assignee", "dpo")]),
        ("plan", vec![]),
    ] {
        let r = post_form(app, &session, &format!("{at}/{action}"), &fields).await;
        assert_eq!(r.status(), 303, "{action}");
    }
    Planned {
        session,
        at,
        id,
        officer,
        archivist,
    }
}
