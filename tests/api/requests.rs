//! Data-subject requests through HTTP: intake, proof, the officer's actions, the clock, mail.
use crate::archive::{channel, get, import};
use crate::both_backends;
use crate::consent::PAGE;
use crate::helpers::{Backend, TestApp, problem, spawn_app, spawn_app_with};
use crate::smtp::SmtpServer;
use insyn::audit::Actor;
use insyn::mail::rules::{Email, Language};
use insyn::requests::rules::RequestType;
use insyn::requests::store::{Intake, NewIdentity, NewRequest, submit_many};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use serde_json::{Value, json};

fn body(email: &str, account: &str) -> Value {
    json!({"type": "access", "email": email, "language": "sv",
           "identities": [{"platform": "facebook", "value": account}]})
}

async fn submit(app: &TestApp, b: &Value) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/requests"))
        .json(b)
        .send()
        .await
        .unwrap()
}

async fn as_citizen(
    app: &TestApp,
    token: &str,
    method: &str,
    path: &str,
    b: Option<Value>,
) -> reqwest::Response {
    let r = match method {
        "GET" => app.client.get(app.url(path)),
        _ => app.client.post(app.url(path)),
    }
    .bearer_auth(token);
    let r = match b {
        Some(b) => r.json(&b),
        None => r,
    };
    r.send().await.unwrap()
}

/// The subjects of the mail queued to `to`.
pub(crate) async fn outbox_for(app: &TestApp, to: &str) -> Vec<String> {
    outbox(app)
        .await
        .into_iter()
        .filter(|m| m.recipient == to)
        .map(|m| m.subject)
        .collect()
}

async fn outbox(app: &TestApp) -> Vec<entities::outbox::Model> {
    entities::outbox::Entity::find()
        .order_by_asc(entities::outbox::Column::Id)
        .all(&app.db)
        .await
        .unwrap()
}

/// Submits an access request from `email` for `account`: its id and status token.
async fn submitted(app: &TestApp, email: &str, account: &str) -> (i64, String) {
    let s: Value = submit(app, &body(email, account))
        .await
        .json()
        .await
        .unwrap();
    (
        s["id"].as_i64().unwrap(),
        s["status_token"].as_str().unwrap().to_owned(),
    )
}

/// The outbox once its first `n` mails are sent.
async fn wait_until_sent(app: &TestApp, n: usize) -> Vec<entities::outbox::Model> {
    for _ in 0..150 {
        let mails = outbox(app).await;
        if mails.len() >= n && mails[..n].iter().all(|m| m.status == "sent") {
            return mails;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the first {n} mails were not recorded as sent");
}

/// The code in the latest code mail to `to`, opened as the sender opens it: the outbox keeps
/// it sealed with the server's secret until the mail is sent.
async fn mailed_code(app: &TestApp, to: &str) -> String {
    let code = mailed_secret(app, to, |s| s.contains("kod") || s.contains("code")).await;
    assert!(code.bytes().all(|c| c.is_ascii_digit()), "{code}");
    code
}

/// The status token of the latest new-link mail to `to` (sent once an officer verified who the
/// person is, while the address was not confirmed).
pub(crate) async fn mailed_status_token(app: &TestApp, to: &str) -> String {
    mailed_secret(app, to, |s| s.contains("Ny länk") || s.contains("new link")).await
}

/// The secret of the latest mail to `to` whose subject `about` picks, opened as the sender does.
async fn mailed_secret(app: &TestApp, to: &str, about: impl Fn(&str) -> bool) -> String {
    let mails = outbox(app).await;
    let mail = mails
        .iter()
        .rev()
        .filter(|m| m.recipient == to)
        .find(|m| about(&m.subject))
        .unwrap();
    assert!(
        mail.body_text.contains("{{secret}}"),
        "the secret is not kept in clear"
    );
    app.secret
        .open_mail_secret(
            mail.id,
            &mail.recipient,
            mail.secret_sealed
                .as_deref()
                .expect("an unsent code mail keeps its code sealed"),
        )
        .expect("the code opens with the app's secret")
}

fn today() -> chrono::NaiveDate {
    chrono::Utc::now()
        .with_timezone(&chrono_tz::Europe::Stockholm)
        .date_naive()
}

both_backends!(
    a_citizen_submits_proves_the_address_and_an_officer_completes_the_request,
    |b: Backend| async move {
        let smtp = SmtpServer::start().await;
        let url = smtp.url();
        let app = spawn_app_with(b, move |s| {
            s.smtp_url = Some(url);
            s.public_url = "https://insyn.kommun.example".into();
        })
        .await;
        let (_, officer) = app.token("officer").await;
        let (_, archivist) = app.token("archivist").await;

        let r = submit(
            &app,
            &body("Anna@Example.se", "https://www.facebook.com/anna.andersson"),
        )
        .await;
        assert_eq!(r.status(), 202);
        let s: Value = r.json().await.unwrap();
        let year = chrono::Datelike::year(&today());
        assert_eq!(s["reference"], format!("DSR-{year}-000001"));
        assert_eq!(s["status"], "awaiting_verification");
        assert_eq!(s["duplicate"], false);
        let due = insyn::requests::clock::due_date(today(), 1);
        assert_eq!(s["due_at"], due.to_string());
        let token = s["status_token"].as_str().unwrap().to_owned();
        let id = s["id"].as_i64().unwrap();

        // The receipt and the code arrive through the real SMTP server, in Swedish.
        let arrived = smtp.wait_for(2).await;
        assert!(
            arrived.iter().all(|m| m.contains("To: anna@example.se")),
            "{arrived:?}"
        );
        let mails = outbox(&app).await;
        assert!(
            mails[0]
                .subject
                .starts_with("Vi har tagit emot din begäran")
        );
        assert!(mails[0].subject.contains(&format!("DSR-{year}-000001")));
        assert!(mails[0].body_text.contains(&due.to_string()));
        assert!(mails[0].body_html.contains("lang=\"sv\""));
        assert!(mails[1].subject.starts_with("Din kod för ärende"));
        // The token and the code reach the person, and only the person: the outbox kept them
        // sealed until the mails were sent, and keeps neither now.
        let link = format!("https://insyn.kommun.example/requests/{id}?token={token}");
        let delivered = smtp.decoded();
        assert!(delivered.iter().all(|m| m.to == "anna@example.se"));
        let receipt = delivered
            .iter()
            .find(|m| m.subject.starts_with("Vi har tagit emot"))
            .unwrap();
        assert!(receipt.text.contains(&link), "{}", receipt.text);
        let code_mail = delivered
            .iter()
            .find(|m| m.subject.starts_with("Din kod"))
            .unwrap();
        let code = code_mail
            .text
            .lines()
            .find_map(|l| l.strip_prefix("Din kod är: "))
            .unwrap()
            .trim()
            .to_owned();
        assert!(code.len() == 8 && code.bytes().all(|b| b.is_ascii_digit()));
        let sent = wait_until_sent(&app, 2).await;
        for m in &sent {
            assert!(m.secret_sealed.is_none(), "a sent mail keeps no secret");
            for kept in [&m.body_text, &m.body_html] {
                assert!(!kept.contains(&token) && !kept.contains(&code), "{kept}");
            }
        }
        assert!(
            sent[0]
                .body_text
                .contains(&format!("/requests/{id}?token={{{{secret}}}}"))
        );
        assert!(sent[1].body_text.contains("Din kod är: {{secret}}"));
        // Nor does the request: its code is kept as a keyed hash, which no search of the
        // 10^8 codes finds without the server's secret.
        let row = entities::request::Entity::find_by_id(id)
            .one(&app.db)
            .await
            .unwrap()
            .unwrap();
        let stored = row.code_hash.unwrap();
        assert_eq!(stored, app.secret.code_hash(id, &code));
        assert_ne!(stored, insyn::requests::rules::unkeyed_code_hash(id, &code));

        // The token reaches this request only.
        let mine = as_citizen(&app, &token, "GET", &format!("/api/v1/requests/{id}"), None).await;
        let v: Value = mine.json().await.unwrap();
        assert_eq!(v["status"], "awaiting_verification");
        assert!(
            v["email"].is_null(),
            "the citizen's view carries no internal fields"
        );
        assert!(v["account_phrase"].as_str().unwrap().starts_with("INSYN-"));
        let other = submit(&app, &body("bo@example.se", "bo.berg")).await;
        let other: Value = other.json().await.unwrap();
        let other_token = other["status_token"].as_str().unwrap();
        let r = as_citizen(
            &app,
            other_token,
            "GET",
            &format!("/api/v1/requests/{id}"),
            None,
        )
        .await;
        problem(r, 404).await;
        let r = app
            .client
            .get(app.url(&format!("/api/v1/requests/{id}")))
            .send()
            .await
            .unwrap();
        problem(r, 401).await;
        let r = as_citizen(
            &app,
            &archivist,
            "GET",
            &format!("/api/v1/requests/{id}"),
            None,
        )
        .await;
        problem(r, 403).await;

        // The code: wrong, then right; a second verify is a conflict.
        let verify = format!("/api/v1/requests/{id}/verify");
        let r = as_citizen(
            &app,
            &token,
            "POST",
            &verify,
            Some(json!({"code": "00000000"})),
        )
        .await;
        let p = problem(r, 400).await;
        assert_eq!(p["type"], "https://insyn.example/problems/code-wrong");
        assert_eq!(p["errors"][0]["field"], "code");
        let r = as_citizen(&app, &token, "POST", &verify, Some(json!({"code": code}))).await;
        assert_eq!(r.status(), 200);
        let confirmed: Value = r.json().await.unwrap();
        assert_eq!(confirmed["status"], "verified");
        // The address is confirmed: whoever confirmed it gets a new token (its link mailed too),
        // and the one shown at submission stops working.
        let given = token;
        let token = confirmed["status_token"].as_str().unwrap().to_owned();
        assert_ne!(token, given);
        let r = as_citizen(&app, &given, "GET", &format!("/api/v1/requests/{id}"), None).await;
        problem(r, 401).await;
        let r = as_citizen(&app, &token, "POST", &verify, Some(json!({"code": code}))).await;
        problem(r, 409).await;
        let r = as_citizen(&app, &token, "GET", &format!("/api/v1/requests/{id}"), None).await;
        assert!(
            r.json::<Value>()
                .await
                .unwrap()
                .get("status_token")
                .is_none()
        );

        // The officer's queue: earliest due first, with days left.
        let q = get(&app, &officer, "/api/v1/queue?status=verified").await;
        assert_eq!(q["requests"][0]["id"], id);
        assert_eq!(
            q["requests"][0]["days_left"],
            insyn::requests::clock::days_left(today(), due)
        );
        let r = app
            .post_json(
                &format!("/api/v1/requests/{id}/assign"),
                &officer,
                &json!({"assignee": "dpo-1"}),
            )
            .await;
        assert_eq!(r.json::<Value>().await.unwrap()["status"], "in_progress");
        let q = get(&app, &officer, "/api/v1/queue?assignee=dpo-1").await;
        assert_eq!(q["requests"].as_array().unwrap().len(), 1);
        app.post_json(
            &format!("/api/v1/requests/{id}/notes"),
            &officer,
            &json!({"text": "Called the contact centre"}),
        )
        .await;
        // In progress: the citizen can no longer cancel.
        let r = as_citizen(
            &app,
            &token,
            "POST",
            &format!("/api/v1/requests/{id}/cancel"),
            None,
        )
        .await;
        assert_eq!(
            problem(r, 409).await["type"],
            "https://insyn.example/problems/illegal-transition"
        );

        // Extension: 1 or 2 months, at most two in all, with the reason mailed.
        let extend = format!("/api/v1/requests/{id}/extend");
        let r = app
            .post_json(&extend, &officer, &json!({"months": 3, "reason": "x"}))
            .await;
        assert_eq!(problem(r, 400).await["errors"][0]["field"], "months");
        let r = app
            .post_json(
                &extend,
                &officer,
                &json!({"months": 1, "reason": "Många meddelanden att gå igenom"}),
            )
            .await;
        let v: Value = r.json().await.unwrap();
        let extended = insyn::requests::clock::due_date(today(), 2);
        assert_eq!(v["extended_due_at"], extended.to_string());
        let r = app
            .post_json(&extend, &officer, &json!({"months": 2, "reason": "again"}))
            .await;
        assert_eq!(problem(r, 400).await["errors"][0]["field"], "months");
        let ext_mail = outbox(&app)
            .await
            .into_iter()
            .find(|m| m.subject.contains("längre tid"))
            .unwrap();
        assert!(ext_mail.body_text.contains(&extended.to_string()));
        assert!(ext_mail.body_text.contains("Många meddelanden"));

        // No account is verified yet: a package of nothing would say the archive holds nothing.
        let complete = format!("/api/v1/requests/{id}/complete");
        let summary = json!({"summary": "Registerutdraget finns att hämta."});
        let r = app.post_json(&complete, &officer, &summary).await;
        assert!(
            problem(r, 409).await["detail"]
                .as_str()
                .unwrap()
                .contains("verified")
        );
        let r = app
            .post_json(
                &format!("/api/v1/requests/{id}/verify-identity"),
                &officer,
                &json!({"method": "e_id"}),
            )
            .await;
        assert_eq!(r.status(), 200);
        let r = app.post_json(&complete, &officer, &summary).await;
        assert_eq!(r.json::<Value>().await.unwrap()["status"], "completed");
        // An erasure is answered by its plan, another right by carry-out: never by `complete`.
        for kind in ["erasure", "objection"] {
            let s: Value = submit(
                &app,
                &json!({"type": kind, "email": format!("{kind}@example.se"), "language": "sv",
                        "identities": [{"platform": "facebook", "value": "5001"}]}),
            )
            .await
            .json()
            .await
            .unwrap();
            let other = s["id"].as_i64().unwrap();
            let r = app
                .post_json(
                    &format!("/api/v1/requests/{other}/verify-identity"),
                    &officer,
                    &json!({"method": "e_id"}),
                )
                .await;
            assert_eq!(r.status(), 200);
            let r = app
                .post_json(
                    &format!("/api/v1/requests/{other}/complete"),
                    &officer,
                    &summary,
                )
                .await;
            let p = problem(r, 409).await;
            assert!(
                p["detail"]
                    .as_str()
                    .unwrap()
                    .contains(if kind == "erasure" {
                        "plan"
                    } else {
                        "carry-out"
                    }),
                "{p}"
            );
        }
        let done = outbox(&app)
            .await
            .into_iter()
            .find(|m| m.subject.contains("klart"))
            .unwrap();
        assert!(done.body_text.contains("Registerutdraget finns att hämta."));
        assert!(
            !done.body_text.contains("token="),
            "the status token is never stored, so never re-mailed"
        );

        // The officer sees the whole history; the citizen the part about them.
        let full = get(&app, &officer, &format!("/api/v1/requests/{id}")).await;
        let kinds: Vec<&str> = full["history"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["kind"].as_str().unwrap())
            .collect();
        assert_eq!(
            kinds,
            [
                "received",
                "code_wrong",
                "email_verified",
                "status_link_replaced",
                "assigned",
                "note",
                "extended",
                "identity_verified",
                "completed"
            ]
        );
        assert_eq!(full["email"], "anna@example.se");
        let theirs: Value =
            as_citizen(&app, &token, "GET", &format!("/api/v1/requests/{id}"), None)
                .await
                .json()
                .await
                .unwrap();
        let kinds: Vec<&str> = theirs["history"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["kind"].as_str().unwrap())
            .collect();
        assert_eq!(
            kinds,
            [
                "received",
                "email_verified",
                "status_link_replaced",
                "extended",
                "identity_verified",
                "completed"
            ]
        );
        let regs = get(&app, &officer, "/api/v1/registrations").await;
        assert_eq!(regs["registrations"][0]["reason"], "request");
        assert_eq!(regs["registrations"][0]["request_id"], id);
        let audit = get(
            &app,
            &app.admin,
            &format!("/api/v1/audit?target=request:{id}"),
        )
        .await;
        let text = audit.to_string();
        assert!(
            !text.contains("anna@example.se"),
            "no address in the audit log"
        );
        assert_eq!(
            get(&app, &app.admin, "/api/v1/audit/verify").await["intact"],
            true
        );
        smtp.wait_for(5).await;
    }
);

both_backends!(
    a_code_mailed_before_codes_were_keyed_still_confirms_the_address,
    |b: Backend| async move {
        let app = spawn_app(b).await;
        let (id, token) = submitted(&app, "dora@example.se", "dora.lind").await;
        // As an earlier version stored it: the code's plain SHA-256.
        let code = mailed_code(&app, "dora@example.se").await;
        let row = entities::request::Entity::find_by_id(id)
            .one(&app.db)
            .await
            .unwrap()
            .unwrap();
        let mut a: entities::request::ActiveModel = row.into();
        a.code_hash = Set(Some(insyn::requests::rules::unkeyed_code_hash(id, &code)));
        a.update(&app.db).await.unwrap();
        let verify = format!("/api/v1/requests/{id}/verify");
        let wrong = if code == "00000000" {
            "11111111"
        } else {
            "00000000"
        };
        let r = as_citizen(&app, &token, "POST", &verify, Some(json!({"code": wrong}))).await;
        assert_eq!(
            problem(r, 400).await["type"],
            "https://insyn.example/problems/code-wrong"
        );
        let r = as_citizen(&app, &token, "POST", &verify, Some(json!({"code": code}))).await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.json::<Value>().await.unwrap()["status"], "verified");
    }
);

both_backends!(
    codes_expire_run_out_and_are_resent_at_a_measured_pace,
    |b: Backend| async move {
        let app = spawn_app(b).await;
        let (id, token) = submitted(&app, "cecilia@example.se", "cecilia.ek").await;
        let verify = format!("/api/v1/requests/{id}/verify");
        let resend = format!("/api/v1/requests/{id}/verification-code");

        // Too soon for a new code.
        let r = as_citizen(&app, &token, "POST", &resend, None).await;
        let wait: u64 = r.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=60).contains(&wait));
        problem(r, 429).await;

        // Expired.
        let row = entities::request::Entity::find_by_id(id)
            .one(&app.db)
            .await
            .unwrap()
            .unwrap();
        let mut a: entities::request::ActiveModel = row.into();
        a.code_expires_at = Set(Some(insyn::audit::now() - chrono::Duration::minutes(1)));
        a.code_sent_at = Set(Some(insyn::audit::now() - chrono::Duration::minutes(2)));
        a.update(&app.db).await.unwrap();
        let old = mailed_code(&app, "cecilia@example.se").await;
        let r = as_citizen(&app, &token, "POST", &verify, Some(json!({"code": old}))).await;
        assert_eq!(
            problem(r, 410).await["type"],
            "https://insyn.example/problems/code-expired"
        );

        // A new code; five wrong attempts use it up.
        let r = as_citizen(&app, &token, "POST", &resend, None).await;
        assert_eq!(r.status(), 200);
        let fresh = mailed_code(&app, "cecilia@example.se").await;
        assert_ne!(fresh, old);
        for left in (1..5).rev() {
            let r = as_citizen(
                &app,
                &token,
                "POST",
                &verify,
                Some(json!({"code": "11111111"})),
            )
            .await;
            let p = problem(r, 400).await;
            assert!(
                p["errors"][0]["reason"]
                    .as_str()
                    .unwrap()
                    .contains(&format!("{left} attempts left"))
            );
        }
        let r = as_citizen(
            &app,
            &token,
            "POST",
            &verify,
            Some(json!({"code": "11111111"})),
        )
        .await;
        assert_eq!(
            problem(r, 409).await["type"],
            "https://insyn.example/problems/code-exhausted"
        );
        let r = as_citizen(&app, &token, "POST", &verify, Some(json!({"code": fresh}))).await;
        assert_eq!(
            problem(r, 409).await["type"],
            "https://insyn.example/problems/code-exhausted"
        );

        // Cancelling while not in progress is the citizen's right.
        let r = as_citizen(
            &app,
            &token,
            "POST",
            &format!("/api/v1/requests/{id}/cancel"),
            None,
        )
        .await;
        assert_eq!(r.json::<Value>().await.unwrap()["status"], "cancelled");
    }
);

both_backends!(
    duplicates_are_linked_bad_input_is_named_and_the_rate_limit_holds,
    |b: Backend| async move {
        let app = spawn_app_with(b, |s| s.public_rate_limit = 3).await;
        let r = submit(
            &app,
            &json!({"type": "erasure", "email": "nope", "identities": []}),
        )
        .await;
        let p = problem(r, 400).await;
        assert!(
            ["email", "identities"].contains(&p["errors"][0]["field"].as_str().unwrap()),
            "{p}"
        );
        let r = submit(
            &app,
            &json!({"type": "forget_me", "email": "a@example.se",
            "identities": [{"platform": "facebook", "value": "1"}]}),
        )
        .await;
        assert_eq!(problem(r, 400).await["errors"][0]["field"], "type");
        let b1 = body(
            "dan@example.se",
            "https://www.facebook.com/profile.php?id=777",
        );
        let first: Value = submit(&app, &b1).await.json().await.unwrap();
        // The same address, type and account (written another way) while the first is open.
        let second: Value = submit(&app, &body("DAN@example.se", "777"))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(second["duplicate"], true);
        assert_eq!(second["id"], first["id"]);
        assert!(second["status_token"].is_null());
        let mails = outbox(&app).await;
        assert!(
            mails
                .last()
                .unwrap()
                .subject
                .starts_with("Du har redan ett pågående ärende")
        );
        // Bodies that parse count against the budget of three: the third passes, the fourth waits.
        assert_eq!(
            submit(&app, &body("eva@example.se", "eva")).await.status(),
            202
        );
        let r = submit(&app, &body("eva2@example.se", "eva2")).await;
        let retry = r.headers().get("retry-after").cloned();
        assert_eq!(
            problem(r, 429).await["type"],
            "https://insyn.example/problems/rate-limited"
        );
        assert!(retry.is_some());
        // Officers are not rate-limited, and may register a letter with its date of receipt.
        let (_, officer) = app.token("officer").await;
        // Once the first is closed, the same request opens a case of its own (sent
        // by an officer: the public budget is spent).
        let token = first["status_token"].as_str().unwrap();
        let cancel = format!("/api/v1/requests/{}/cancel", first["id"]);
        let r = as_citizen(&app, token, "POST", &cancel, None).await;
        assert_eq!(r.json::<Value>().await.unwrap()["status"], "cancelled");
        let r = app.post_json("/api/v1/requests", &officer, &b1).await;
        let third: Value = r.json().await.unwrap();
        assert_eq!(third["duplicate"], false);
        assert_ne!(third["id"], first["id"]);
        assert!(third["status_token"].is_string());
        let mut letter = body("fia@example.se", "fia");
        letter["received_at"] = json!("2026-01-31T09:00:00Z");
        // A token that does not check out is refused, not taken for the public's.
        for bad in ["insyn_not-a-token", &officer[..officer.len() - 1]] {
            let r = app.post_json("/api/v1/requests", bad, &letter).await;
            problem(r, 401).await;
        }
        let r = app.post_json("/api/v1/requests", &officer, &letter).await;
        let v: Value = r.json().await.unwrap();
        // 31 January + 1 month = 28 February 2026, a Saturday: Monday 2 March.
        assert_eq!(v["due_at"], "2026-03-02");
        let id = v["id"].as_i64().unwrap();
        let r = app
            .post_json(
                &format!("/api/v1/requests/{id}/verify-identity"),
                &officer,
                &json!({"method": "letter", "note": "Kopia av ID-kort"}),
            )
            .await;
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["status"], "verified");
        assert_eq!(v["identities"][0]["verified_by"], "officer:letter");
        let r = app
            .post_json(
                &format!("/api/v1/requests/{id}/refuse"),
                &officer,
                &json!({"reason": "Uppenbart ogrundad"}),
            )
            .await;
        assert_eq!(r.json::<Value>().await.unwrap()["status"], "refused");
        let refusal = outbox(&app).await.into_iter().last().unwrap();
        assert!(refusal.body_text.contains("Integritetsskyddsmyndigheten"));
        assert!(refusal.body_text.contains("Uppenbart ogrundad"));
        let r = app
            .post_json(
                &format!("/api/v1/requests/{id}/assign"),
                &officer,
                &json!({"assignee": "x"}),
            )
            .await;
        problem(r, 409).await;
    }
);

/// A submission as the intake takes it, by a citizen.
fn intake(kind: RequestType, email: &str, account: &str) -> Intake {
    Intake {
        new: NewRequest {
            request_type: kind,
            email: Email::parse(email).unwrap(),
            language: Language::Sv,
            identities: vec![NewIdentity {
                platform: "facebook".into(),
                value: account.into(),
            }],
            message: None,
            received_at: None,
        },
        actor: Actor {
            id: "citizen".into(),
            role: "citizen".into(),
        },
    }
}

async fn intact_audit_chain(app: &TestApp) -> bool {
    get(app, &app.admin, "/api/v1/audit/verify").await["intact"] == true
}

/// An app whose archive holds the consent tests' thread (Anna 501, Bo 502, Cecilia 503): the
/// app, an archivist's and an officer's token, and the channel.
/// The answers to submissions sent at once, each of them accepted.
async fn accepted(sent: Vec<tokio::task::JoinHandle<reqwest::Response>>) -> Vec<Value> {
    let mut answers = vec![];
    for s in sent {
        let r = s.await.unwrap();
        assert_eq!(r.status(), 202);
        answers.push(r.json::<Value>().await.unwrap());
    }
    answers
}

async fn with_thread(b: Backend) -> (TestApp, String, String, i64) {
    let app = spawn_app(b).await;
    let (_, archivist) = app.token("archivist").await;
    let (_, officer) = app.token("officer").await;
    let ch = channel(&app, &archivist, "facebook", PAGE).await;
    assert_eq!(
        import(&app, &archivist, ch, &crate::consent::thread())
            .await
            .status(),
        200
    );
    (app, archivist, officer, ch)
}

/// The registration sequences of the requests `ids`, in that order.
async fn registration_seqs(app: &TestApp, ids: &[i64]) -> Vec<i64> {
    let regs = entities::registration::Entity::find()
        .all(&app.db)
        .await
        .unwrap();
    ids.iter()
        .map(|id| {
            regs.iter()
                .find(|r| r.request_id == Some(*id))
                .unwrap_or_else(|| panic!("request {id} is not registered"))
                .seq
        })
        .collect()
}

both_backends!(
    a_batch_takes_each_request_in_links_repeats_and_matches_accounts,
    |b: Backend| async move {
        let (app, archivist, officer, ch) = with_thread(b).await;
        // Gunnar's comment gives his profile link, as the Graph API does for some authors (in
        // capitals, as the platform may write it).
        let gunnar_comment = json!({"id": "1_40", "from": {"id": "601", "name": "Gunnar Gren",
            "link": "https://www.facebook.com/Gunnar.Gren"}, "message": "Bra!",
            "created_time": "2026-11-01T10:00:00+0000", "parent": {"id": "1_10"}});
        assert_eq!(
            import(&app, &archivist, ch, &gunnar_comment).await.status(),
            200
        );
        let anna = crate::consent::identity(&app, &officer, "501").await;
        let bo = crate::consent::identity(&app, &officer, "502").await;
        let gunnar = crate::consent::identity(&app, &officer, "601").await;
        let frida: Value = submit(&app, &body("frida@example.se", "frida"))
            .await
            .json()
            .await
            .unwrap();
        let ctx = insyn::requests::store::Context {
            secret: app.secret.clone(),
            public_url: "https://insyn.kommun.example".into(),
            numbering: insyn::registry::Numbering {
                series: "KS".into(),
                pattern: "{series} {year}-{seq}".into(),
                time_zone: chrono_tz::Europe::Stockholm,
            },
            time_zone: chrono_tz::Europe::Stockholm,
        };
        use RequestType::{Access, Erasure};
        let out = submit_many(
            &app.db,
            &ctx,
            &[
                intake(Access, "anna@example.se", "501"),
                intake(Access, "bo@example.se", "Bo Berg"),
                // Anna again, her account written as a link: the first of the batch takes it.
                intake(
                    Access,
                    "ANNA@example.se",
                    "https://www.facebook.com/profile.php?id=501",
                ),
                intake(Erasure, "anna@example.se", "501"),
                // Wildcards are letters here, not patterns that match every name.
                intake(Access, "eva@example.se", "___"),
                intake(Access, "frida@example.se", "frida"),
                // His link, as he copied it from his browser; and without its scheme, in small
                // letters, by another request of his.
                intake(
                    Access,
                    "gunnar@example.se",
                    "https://www.facebook.com/Gunnar.Gren/",
                ),
                intake(Erasure, "gunnar@example.se", "www.facebook.com/gunnar.gren"),
            ],
        )
        .await
        .unwrap();
        let fresh: Vec<bool> = out.iter().map(|s| !s.duplicate).collect();
        assert_eq!(fresh, [true, true, false, true, true, false, true, true]);
        assert_eq!(out[2].request.id, out[0].request.id);
        assert!(out[2].status_token.is_none() && out[5].status_token.is_none());
        assert_eq!(out[5].request.id, frida["id"].as_i64().unwrap());
        let new: Vec<i64> = [0, 1, 3, 4].map(|n| out[n].request.id).to_vec();
        let year = chrono::Datelike::year(&today());
        for (n, id) in [0, 1, 3, 4].into_iter().zip(&new) {
            let s = &out[n];
            assert_eq!(s.request.reference, format!("DSR-{year}-{id:06}"));
            // Each answer's token opens its own request.
            let mine = as_citizen(
                &app,
                s.status_token.as_deref().unwrap(),
                "GET",
                &format!("/api/v1/requests/{id}"),
                None,
            )
            .await;
            assert_eq!(mine.status(), 200);
        }
        // Numbered gap-free in the order of the batch, after Frida's.
        let first = registration_seqs(&app, &[frida["id"].as_i64().unwrap()]).await[0];
        assert_eq!(
            registration_seqs(&app, &new).await,
            [first + 1, first + 2, first + 3, first + 4]
        );

        let v = get(&app, &officer, &format!("/api/v1/requests/{}", new[0])).await;
        assert_eq!(v["identities"][0]["identity_id"], anna, "{v}");
        let kinds: Vec<&str> = v["history"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["kind"].as_str().unwrap())
            .collect();
        assert_eq!(kinds, ["received", "duplicate_received"], "{v}");
        let v = get(&app, &officer, &format!("/api/v1/requests/{}", new[1])).await;
        assert!(v["identities"][0]["identity_id"].is_null(), "{v}");
        assert_eq!(v["possible_matches"][0]["identity_id"], bo, "{v}");
        let v = get(&app, &officer, &format!("/api/v1/requests/{}", new[3])).await;
        assert_eq!(v["possible_matches"], json!([]), "{v}");
        let v = get(
            &app,
            &officer,
            &format!("/api/v1/requests/{}", out[6].request.id),
        )
        .await;
        assert_eq!(v["identities"][0]["identity_id"], gunnar, "{v}");
        let v = get(
            &app,
            &officer,
            &format!("/api/v1/requests/{}", out[7].request.id),
        )
        .await;
        assert_eq!(v["identities"][0]["identity_id"], gunnar, "{v}");

        // A receipt and a code per new request, a notice per repeat.
        assert_eq!(outbox_for(&app, "anna@example.se").await.len(), 5);
        assert_eq!(outbox_for(&app, "eva@example.se").await.len(), 2);
        assert_eq!(outbox_for(&app, "frida@example.se").await.len(), 3);
        assert!(intact_audit_chain(&app).await);
    }
);

both_backends!(
    submissions_arriving_together_are_each_answered_and_numbered_without_gaps,
    |b: Backend| async move {
        let app = spawn_app(b).await;
        // Twelve people, four of whom send the same request twice at once.
        let bodies: Vec<Value> = (0..16)
            .map(|n| {
                let who = n % 12;
                body(
                    &format!("person{who}@example.se"),
                    &format!("{}", 700 + who),
                )
            })
            .collect();
        let sent: Vec<_> = bodies
            .into_iter()
            .map(|b| {
                let (client, url) = (app.client.clone(), app.url("/api/v1/requests"));
                tokio::spawn(async move { client.post(url).json(&b).send().await.unwrap() })
            })
            .collect();
        let answers = accepted(sent).await;
        for who in 0..12 {
            let mine: Vec<&Value> = answers
                .iter()
                .enumerate()
                .filter(|(n, _)| n % 12 == who)
                .map(|(_, a)| a)
                .collect();
            // One request per person; whichever came second is added to it, without a token.
            assert!(mine.iter().all(|a| a["id"] == mine[0]["id"]), "{mine:?}");
            assert_eq!(
                mine.iter()
                    .filter(|a| a["status_token"].is_string())
                    .count(),
                1,
                "{mine:?}"
            );
            assert_eq!(
                mine.iter().filter(|a| a["duplicate"] == true).count(),
                mine.len() - 1
            );
        }
        let mut ids: Vec<i64> = answers.iter().map(|a| a["id"].as_i64().unwrap()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), 12);
        let mut seqs = registration_seqs(&app, &ids).await;
        seqs.sort_unstable();
        assert_eq!(seqs, (1..=12).collect::<Vec<i64>>());
        assert_eq!(outbox(&app).await.len(), 12 * 2 + 4);
        assert!(intact_audit_chain(&app).await);
        // Every submission was taken in by some batch, and none failed.
        let metrics = app
            .client
            .get(app.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let counter = |name: &str| -> u64 {
            metrics
                .lines()
                .find_map(|l| l.strip_prefix(&format!("{name} ")))
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("no {name} in {metrics}"))
        };
        assert_eq!(counter("insyn_intake_submissions_total"), 16);
        assert!((1..=16).contains(&counter("insyn_intake_batches_total")));
        assert_eq!(counter("insyn_intake_failed_batches_total"), 0);
    }
);

both_backends!(
    two_instances_on_one_database_open_one_request_for_one_submission,
    |b: Backend| async move {
        let first = spawn_app(b).await;
        let url = first.database_url.clone();
        let second = spawn_app_with(b, move |s| s.database_url = url).await;
        // The same request, sent eight times at once through both instances.
        let sent: Vec<_> = (0..8)
            .map(|n| {
                let app = if n % 2 == 0 { &first } else { &second };
                let (client, url) = (app.client.clone(), app.url("/api/v1/requests"));
                tokio::spawn(async move {
                    client
                        .post(url)
                        .json(&body("dora@example.se", "dora.dahl"))
                        .send()
                        .await
                        .unwrap()
                })
            })
            .collect();
        let answers = accepted(sent).await;
        assert!(
            answers.iter().all(|a| a["id"] == answers[0]["id"]),
            "{answers:?}"
        );
        assert_eq!(
            answers
                .iter()
                .filter(|a| a["status_token"].is_string())
                .count(),
            1
        );
    }
);

both_backends!(
    a_phrase_sent_from_the_claimed_account_proves_it_on_import,
    |b: Backend| async move {
        let (app, archivist, officer, ch) = with_thread(b).await;
        // Anna names her account by id; someone names "Bo Berg" by name only.
        let s: Value = submit(&app, &body("anna@example.se", "501"))
            .await
            .json()
            .await
            .unwrap();
        let (id, token) = (
            s["id"].as_i64().unwrap(),
            s["status_token"].as_str().unwrap().to_owned(),
        );
        let by_name: Value = submit(&app, &body("bo@example.se", "Bo Berg"))
            .await
            .json()
            .await
            .unwrap();
        let v = get(
            &app,
            &officer,
            &format!("/api/v1/requests/{}", by_name["id"]),
        )
        .await;
        assert_eq!(v["possible_matches"].as_array().unwrap().len(), 1, "{v}");
        assert!(
            v["identities"][0]["identity_id"].is_null(),
            "a name is never a match by itself"
        );
        let m = v["possible_matches"][0]["id"].as_i64().unwrap();
        let r = app
            .post_json(
                &format!("/api/v1/requests/{}/matches/{m}/reject", by_name["id"]),
                &officer,
                &json!({}),
            )
            .await;
        assert_eq!(
            r.json::<Value>().await.unwrap()["possible_matches"][0]["state"],
            "rejected"
        );
        let r = app
            .post_json(
                &format!("/api/v1/requests/{}/matches/999999/confirm", by_name["id"]),
                &officer,
                &json!({}),
            )
            .await;
        crate::helpers::problem(r, 404).await;

        let v: Value = as_citizen(&app, &token, "GET", &format!("/api/v1/requests/{id}"), None)
            .await
            .json()
            .await
            .unwrap();
        let phrase = v["account_phrase"].as_str().unwrap().to_owned();
        assert!(v["identities"][0]["verified_at"].is_null());
        // Someone else sending the phrase proves nothing.
        let from_bo = json!({"id": "1_30", "from": {"id": "502", "name": "Bo Berg"},
            "message": format!("Kod: {phrase}"), "created_time": "2026-11-01T10:00:00+0000", "parent": {"id": "1_10"}});
        assert_eq!(import(&app, &archivist, ch, &from_bo).await.status(), 200);
        let v = get(&app, &officer, &format!("/api/v1/requests/{id}")).await;
        assert!(v["identities"][0]["verified_at"].is_null());
        // Anna sends it as a private message: a Messenger webhook delivery, as Meta sends it.
        let from_anna = json!({"object": "page", "entry": [{"id": PAGE, "time": 1_764_000_000_000_i64,
            "messaging": [{"sender": {"id": "501"}, "recipient": {"id": PAGE}, "timestamp": 1_764_000_000_000_i64,
                "message": {"mid": "m_proof_1", "seq": 7, "text": format!("Här är min kod: {}", phrase.to_lowercase().replace('-', " "))}}]}]});
        assert_eq!(import(&app, &archivist, ch, &from_anna).await.status(), 200);
        let v = get(&app, &officer, &format!("/api/v1/requests/{id}")).await;
        assert!(
            v["identities"][0]["verified_by"]
                .as_str()
                .unwrap()
                .starts_with("platform_message:record:")
        );
        assert!(v["identities"][0]["identity_id"].is_i64());
        let kinds: Vec<&str> = v["history"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["kind"].as_str().unwrap())
            .collect();
        assert!(kinds.contains(&"account_verified"), "{kinds:?}");
        // Anna never confirmed her address: the proof of her account replaces the token whoever
        // submitted holds with one mailed to the address, once for the request.
        assert!(kinds.contains(&"status_link_replaced"), "{kinds:?}");
        problem(
            as_citizen(&app, &token, "GET", &format!("/api/v1/requests/{id}"), None).await,
            401,
        )
        .await;
        let mailed = mailed_status_token(&app, "anna@example.se").await;
        let r = as_citizen(
            &app,
            &mailed,
            "GET",
            &format!("/api/v1/requests/{id}"),
            None,
        )
        .await;
        assert_eq!(r.status(), 200);
        // The officer's check after it proves nothing new, and leaves the mailed link be.
        let r = app
            .post_json(
                &format!("/api/v1/requests/{id}/verify-identity"),
                &officer,
                &json!({"method": "e_id"}),
            )
            .await;
        assert_eq!(r.status(), 200);
        let r = as_citizen(
            &app,
            &mailed,
            "GET",
            &format!("/api/v1/requests/{id}"),
            None,
        )
        .await;
        assert_eq!(r.status(), 200);
        let links = outbox_for(&app, "anna@example.se")
            .await
            .into_iter()
            .filter(|s| s.starts_with("Ny länk"))
            .count();
        assert_eq!(links, 1);
    }
);

both_backends!(
    officers_get_a_digest_of_what_is_due_and_overdue,
    |b: Backend| async move {
        let app = spawn_app_with(b, |s| {
            s.officer_emails = vec!["dpo@kommun.example".into(), "dpo2@kommun.example".into()];
        })
        .await;
        let s: Value = submit(&app, &body("gustav@example.se", "gustav"))
            .await
            .json()
            .await
            .unwrap();
        let later: Value = submit(&app, &body("hanna@example.se", "hanna"))
            .await
            .json()
            .await
            .unwrap();
        let id = s["id"].as_i64().unwrap();
        // One overdue; the other due in a month is not in the digest.
        let row = entities::request::Entity::find_by_id(id)
            .one(&app.db)
            .await
            .unwrap()
            .unwrap();
        let mut a: entities::request::ActiveModel = row.into();
        a.due_at = Set(today() - chrono::Days::new(2));
        a.update(&app.db).await.unwrap();
        // The digest's time comes: the service's own runner sends it.
        use sea_orm::{ColumnTrait, QueryFilter, QueryOrder};
        let digest_jobs = || {
            entities::job::Entity::find()
                .filter(entities::job::Column::Kind.eq(insyn::requests::DIGEST_JOB))
                .order_by_asc(entities::job::Column::Id)
                .all(&app.db)
        };
        let first = digest_jobs().await.unwrap();
        assert_eq!(first.len(), 1, "scheduled when the service started");
        let mut due: entities::job::ActiveModel = first[0].clone().into();
        due.run_at = Set(insyn::audit::now());
        due.update(&app.db).await.unwrap();
        let mut digests = vec![];
        for _ in 0..100 {
            digests = outbox(&app)
                .await
                .into_iter()
                .filter(|m| m.subject.starts_with("Dataskyddsärenden"))
                .collect();
            if digests.len() >= 2 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert_eq!(digests.len(), 2);
        let d = &digests[0];
        assert!(
            d.subject.contains("1 försenade, 0 inom en vecka"),
            "{}",
            d.subject
        );
        assert!(d.body_text.contains(s["reference"].as_str().unwrap()));
        assert!(d.body_text.contains("(-2 dagar)"));
        assert!(!d.body_text.contains(later["reference"].as_str().unwrap()));
        assert!(
            !d.body_text.contains("gustav@example.se"),
            "no personal data in the digest"
        );
        // Tomorrow's digest is scheduled, once.
        let mut next = vec![];
        for _ in 0..100 {
            next = digest_jobs().await.unwrap();
            if next.len() == 2 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert_eq!(next.len(), 2, "{next:?}");
        assert_eq!(next[1].status, insyn::jobs::rules::QUEUED);
        assert!(next[1].run_at > insyn::audit::now());
    }
);

both_backends!(
    the_queue_filters_sorts_by_the_extended_due_date_and_pages,
    |b: Backend| async move {
        let app = spawn_app(b).await;
        let (_, officer) = app.token("officer").await;
        let mut ids = vec![];
        for who in ["ida", "jan", "kim"] {
            let s: Value = submit(&app, &body(&format!("{who}@example.se"), who))
                .await
                .json()
                .await
                .unwrap();
            ids.push(s["id"].as_i64().unwrap());
        }
        // ida is overdue; jan's deadline was extended past kim's.
        let set = |id: i64, due: chrono::NaiveDate, extended: Option<chrono::NaiveDate>| {
            let db = app.db.clone();
            async move {
                let row = entities::request::Entity::find_by_id(id)
                    .one(&db)
                    .await
                    .unwrap()
                    .unwrap();
                let mut a: entities::request::ActiveModel = row.into();
                a.due_at = Set(due);
                a.extended_due_at = Set(extended);
                a.update(&db).await.unwrap();
            }
        };
        let t = today();
        set(ids[0], t - chrono::Days::new(3), None).await;
        set(
            ids[1],
            t + chrono::Days::new(5),
            Some(t + chrono::Days::new(40)),
        )
        .await;
        set(ids[2], t + chrono::Days::new(10), None).await;
        let order = |q: Value| -> Vec<i64> {
            q["requests"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["id"].as_i64().unwrap())
                .collect()
        };
        assert_eq!(
            order(get(&app, &officer, "/api/v1/queue").await),
            [ids[0], ids[2], ids[1]]
        );
        let overdue = get(&app, &officer, "/api/v1/queue?overdue=true").await;
        assert_eq!(order(overdue.clone()), [ids[0]]);
        assert_eq!(overdue["requests"][0]["days_left"], -3);
        assert_eq!(overdue["requests"][0]["overdue"], true);
        assert_eq!(
            order(get(&app, &officer, "/api/v1/queue?overdue=false").await),
            [ids[2], ids[1]]
        );
        let before = format!("/api/v1/queue?due_before={}", t + chrono::Days::new(20));
        assert_eq!(order(get(&app, &officer, &before).await), [ids[0], ids[2]]);
        // Paging by (due date, id).
        let first = get(&app, &officer, "/api/v1/queue?limit=2").await;
        assert_eq!(order(first.clone()), [ids[0], ids[2]]);
        let next = first["next_after"].as_str().unwrap();
        let second = get(
            &app,
            &officer,
            &format!("/api/v1/queue?limit=2&after={next}"),
        )
        .await;
        assert_eq!(order(second.clone()), [ids[1]]);
        assert!(second["next_after"].is_null());
        let r = app
            .client
            .get(app.url("/api/v1/queue?after=yesterday"))
            .bearer_auth(&officer)
            .send()
            .await
            .unwrap();
        assert_eq!(problem(r, 400).await["errors"][0]["field"], "after");
    }
);

both_backends!(
    a_name_is_found_through_its_index_whatever_its_case_and_as_it_changes,
    |b: Backend| async move {
        let (app, archivist, officer, ch) = with_thread(b).await;
        let bo = crate::consent::identity(&app, &officer, "502").await;
        // A name with a wildcard character in it, looked for by a scan on SQLite.
        let dan = json!({"id": "1_41", "from": {"id": "604", "name": "Dan_Ek"}, "message": "Ja",
            "created_time": "2026-11-01T10:00:00+0000", "parent": {"id": "1_10"}});
        assert_eq!(import(&app, &archivist, ch, &dan).await.status(), 200);
        let dan = crate::consent::identity(&app, &officer, "604").await;
        let possible = |email: &'static str, name: &'static str| {
            let app = &app;
            let officer = &officer;
            async move {
                let r: Value = submit(app, &body(email, name)).await.json().await.unwrap();
                let v = get(app, officer, &format!("/api/v1/requests/{}", r["id"])).await;
                v["possible_matches"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|m| m["identity_id"].as_i64().unwrap())
                    .collect::<Vec<i64>>()
            }
        };
        assert_eq!(possible("a@example.se", "bo berg").await, [bo]);
        assert_eq!(possible("b@example.se", "BERG").await, [bo]);
        assert_eq!(possible("c@example.se", "dan_ek").await, [dan]);
        assert_eq!(possible("d@example.se", "Dan%Ek").await, Vec::<i64>::new());
        // Bo changes his name on the platform; the next import brings it, and the index follows.
        let renamed = json!({"id": "1_12", "from": {"id": "502", "name": "Bo Lindqvist"},
            "message": "Håller med", "created_time": "2024-03-01T13:00:00+0000",
            "parent": {"id": "1_10"}});
        assert_eq!(import(&app, &archivist, ch, &renamed).await.status(), 200);
        assert_eq!(possible("e@example.se", "lindqvist").await, [bo]);
        assert_eq!(possible("f@example.se", "Bo Berg").await, Vec::<i64>::new());
        // A name erased (as an erasure does when no kept record names the person) is found no more.
        entities::identity::Entity::update_many()
            .col_expr(
                entities::identity::Column::DisplayName,
                Expr::value(Option::<String>::None),
            )
            .filter(entities::identity::Column::Id.eq(bo))
            .exec(&app.db)
            .await
            .unwrap();
        assert_eq!(
            possible("g@example.se", "lindqvist").await,
            Vec::<i64>::new()
        );
    }
);

both_backends!(
    an_officers_proof_verifies_only_the_accounts_it_names,
    |b: Backend| async move {
        let app = spawn_app(b).await;
        let (_, officer) = app.token("officer").await;
        let s: Value = submit(
            &app,
            &json!({"type": "access", "email": "gun@example.se",
                "identities": [{"platform": "facebook", "value": "5001"},
                               {"platform": "facebook", "value": "5002"}]}),
        )
        .await
        .json()
        .await
        .unwrap();
        let id = s["id"].as_i64().unwrap();
        let view = get(&app, &officer, &format!("/api/v1/requests/{id}")).await;
        let account = |value: &str| {
            view["identities"]
                .as_array()
                .unwrap()
                .iter()
                .find(|i| i["value"] == value)
                .unwrap()["id"]
                .as_i64()
                .unwrap()
        };
        let (mine, other) = (account("5001"), account("5002"));
        let path = format!("/api/v1/requests/{id}/verify-identity");
        let r = app
            .post_json(
                &path,
                &officer,
                &json!({"method": "e_id", "accounts": [mine, 999_999]}),
            )
            .await;
        let p = problem(r, 400).await;
        assert_eq!(p["errors"][0]["field"], "accounts/1", "{p}");
        let r = app
            .post_json(
                &path,
                &officer,
                &json!({"method": "e_id", "accounts": [mine]}),
            )
            .await;
        assert_eq!(r.status(), 200);
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["status"], "verified");
        let verified = |v: &Value, id: i64| {
            v["identities"]
                .as_array()
                .unwrap()
                .iter()
                .find(|i| i["id"] == id)
                .unwrap()
                .get("verified_at")
                .is_some()
        };
        assert!(verified(&v, mine), "{v}");
        assert!(!verified(&v, other), "{v}");
        // Another request's account is not this request's to verify.
        let (second, _) = submitted(&app, "hans@example.se", "5003").await;
        let r = app
            .post_json(
                &format!("/api/v1/requests/{second}/verify-identity"),
                &officer,
                &json!({"method": "e_id", "accounts": [other]}),
            )
            .await;
        problem(r, 400).await;
    }
);

both_backends!(
    an_instagram_account_named_by_its_username_is_found_exactly,
    |b: Backend| async move {
        let app = spawn_app(b).await;
        let (_, archivist) = app.token("archivist").await;
        let (_, officer) = app.token("officer").await;
        let ig = channel(&app, &archivist, "instagram", "17841400000000000").await;
        let comment: Value = serde_json::from_str(
            &std::fs::read_to_string(format!(
                "{}/../shared/fixtures/meta-graph/python-facebook/instagram_models_ig_comment.json",
                env!("CARGO_MANIFEST_DIR")
            ))
            .unwrap(),
        )
        .unwrap();
        assert_eq!(import(&app, &archivist, ig, &comment).await.status(), 200);
        let s: Value = submit(
            &app,
            &json!({"type": "access", "email": "ikros@example.se",
                "identities": [{"platform": "instagram", "value": "ikroskun"}]}),
        )
        .await
        .json()
        .await
        .unwrap();
        let v = get(&app, &officer, &format!("/api/v1/requests/{}", s["id"])).await;
        assert!(v["identities"][0]["identity_id"].is_i64(), "{v}");
        assert_eq!(v["possible_matches"], json!([]), "{v}");
        // A comment listed with only the commenter's handle is that handle's, and found by it.
        let handle_only: Value = serde_json::from_str(
            &std::fs::read_to_string(format!(
                "{}/../shared/fixtures/meta-graph/restfb/instagram_comment_missing_user.json",
                env!("CARGO_MANIFEST_DIR")
            ))
            .unwrap(),
        )
        .unwrap();
        assert_eq!(
            import(&app, &archivist, ig, &handle_only).await.status(),
            200
        );
        let s: Value = submit(
            &app,
            &json!({"type": "access", "email": "bincy@example.se",
                "identities": [{"platform": "instagram", "value": "@bincyshiona"}]}),
        )
        .await
        .json()
        .await
        .unwrap();
        let v = get(&app, &officer, &format!("/api/v1/requests/{}", s["id"])).await;
        let identity = v["identities"][0]["identity_id"].as_i64().expect("linked");
        let theirs = get(
            &app,
            &officer,
            &format!("/api/v1/records?identity={identity}"),
        )
        .await;
        assert_eq!(theirs["records"][0]["text"], "Nice", "{theirs}");
    }
);

both_backends!(
    an_officers_proof_replaces_the_submitters_token_unless_the_address_is_confirmed,
    |b: Backend| async move {
        let app = spawn_app(b).await;
        let (_, officer) = app.token("officer").await;
        let verify = |id: i64, accounts: Option<Vec<i64>>| {
            let (app, officer) = (&app, &officer);
            async move {
                let mut proof = json!({"method": "in_person"});
                if let Some(a) = accounts {
                    proof["accounts"] = json!(a);
                }
                let r = app
                    .post_json(
                        &format!("/api/v1/requests/{id}/verify-identity"),
                        officer,
                        &proof,
                    )
                    .await;
                assert_eq!(r.status(), 200);
                r.json::<Value>().await.unwrap()
            }
        };
        let verify_identity = |id: i64| verify(id, None);
        let status = |token: String, id: i64| {
            let app = &app;
            async move { as_citizen(app, &token, "GET", &format!("/api/v1/requests/{id}"), None).await }
        };

        // Filed in someone else's name: the proof is theirs, and so is the case from then on.
        let s: Value = submit(
            &app,
            &json!({"type": "access", "email": "victim@example.se", "language": "sv",
                "identities": [{"platform": "facebook", "value": "7001"},
                               {"platform": "instagram", "value": "7011"}]}),
        )
        .await
        .json()
        .await
        .unwrap();
        let (id, given) = (
            s["id"].as_i64().unwrap(),
            s["status_token"].as_str().unwrap().to_owned(),
        );
        let named = get(&app, &officer, &format!("/api/v1/requests/{id}")).await;
        let account = |n: usize| named["identities"][n]["id"].as_i64().unwrap();
        verify(id, Some(vec![account(0)])).await;
        problem(status(given.clone(), id).await, 401).await;
        // The old link's page says why it no longer works.
        let page = app
            .client
            .get(app.url(&format!("/requests/{id}")))
            .query(&[("token", given.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 404);
        assert!(
            page.text()
                .await
                .unwrap()
                .contains("får ärendet en ny länk")
        );
        let mailed = mailed_status_token(&app, "victim@example.se").await;
        assert_ne!(mailed, given);
        let view: Value = status(mailed, id).await.json().await.unwrap();
        assert_eq!(view["status"], "verified");
        assert!(
            view["history"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["kind"] == "status_link_replaced"),
            "{view}"
        );
        let subjects = outbox_for(&app, "victim@example.se").await;
        let reference = view["reference"].as_str().unwrap();
        assert!(
            subjects.contains(&format!("Ny länk till ditt ärende – {reference}")),
            "{subjects:?}"
        );
        let mails = outbox(&app).await;
        let link = mails
            .iter()
            .find(|m| m.subject.starts_with("Ny länk"))
            .unwrap();
        assert!(
            link.body_text
                .contains(&format!("/requests/{id}?token={{{{secret}}}}"))
        );
        assert!(!link.body_text.contains(&given));
        // A later proof, of the other account, leaves the mailed link be.
        let mailed = mailed_status_token(&app, "victim@example.se").await;
        let after = verify(id, Some(vec![account(1)])).await;
        assert!(after["identities"][1]["verified_at"].is_string(), "{after}");
        assert_eq!(status(mailed, id).await.status(), 200);
        let links = outbox_for(&app, "victim@example.se")
            .await
            .into_iter()
            .filter(|s| s.starts_with("Ny länk"))
            .count();
        assert_eq!(links, 1);

        // Filed in someone's name with their address, which they confirm through the receipt's
        // link: whoever confirms the code holds the address, and gets the only working token.
        let (id, given) = submitted(&app, "self@example.se", "7002").await;
        let code = mailed_code(&app, "self@example.se").await;
        let r = as_citizen(
            &app,
            &given,
            "POST",
            &format!("/api/v1/requests/{id}/verify"),
            Some(json!({"code": code})),
        )
        .await;
        assert_eq!(r.status(), 200);
        let theirs = r.json::<Value>().await.unwrap()["status_token"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(status(given.clone(), id).await.status(), 401);
        assert_eq!(status(theirs.clone(), id).await.status(), 200);
        // The new link is mailed to the address too, in words of its own.
        let renewed: Vec<String> = outbox_for(&app, "self@example.se")
            .await
            .into_iter()
            .filter(|s| s.starts_with("Ny länk"))
            .collect();
        assert_eq!(renewed.len(), 1);
        assert_eq!(mailed_status_token(&app, "self@example.se").await, theirs);
        // A later proof of the person, the address confirmed, leaves that link be.
        verify_identity(id).await;
        assert_eq!(status(theirs, id).await.status(), 200);
        assert_eq!(
            outbox_for(&app, "self@example.se")
                .await
                .iter()
                .filter(|s| s.starts_with("Ny länk"))
                .count(),
            1
        );
    }
);

both_backends!(
    the_rate_limit_counts_the_client_a_trusted_proxy_names_and_spares_the_officers_sign_in,
    |b: Backend| async move {
        let app = spawn_app_with(b, |s| {
            s.public_rate_limit = 2;
            s.trusted_proxies = vec!["127.0.0.1".into()];
        })
        .await;
        let from = |client: &'static str, n: u32| {
            let app = &app;
            async move {
                app.client
                    .post(app.url("/api/v1/requests"))
                    .header("x-forwarded-for", format!("6.6.6.6, {client}"))
                    .json(&body(&format!("p{n}@example.se"), &format!("77{n}")))
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            }
        };
        // Behind the proxy every call comes from 127.0.0.1: each client has its own budget, and
        // what a client writes in front of the proxy's entry is not believed.
        assert_eq!(from("198.51.100.1", 1).await, 202);
        assert_eq!(from("198.51.100.1", 2).await, 202);
        assert_eq!(from("198.51.100.1", 3).await, 429);
        assert_eq!(from("198.51.100.2", 4).await, 202);
        // One IPv6 host's /64 is one client.
        assert_eq!(from("2001:db8:0:1::1", 5).await, 202);
        assert_eq!(from("2001:db8:0:1::2", 6).await, 202);
        assert_eq!(from("2001:db8:0:1::3", 7).await, 429);
        // The officers' sign-in has its own budget: a flood of submissions does not lock it.
        let (_, officer) = app.token("officer").await;
        for _ in 0..3 {
            let _ = app
                .client
                .post(app.url("/api/v1/requests"))
                .json(&body("flood@example.se", "7799"))
                .send()
                .await
                .unwrap();
        }
        let r = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
            .post(app.url("/officer/login"))
            .form(&[("token", officer.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303);
    }
);

both_backends!(
    an_address_with_a_letter_outside_ascii_is_taken_in,
    |b: Backend| async move {
        let app = spawn_app(b).await;
        // 'İ' lowercases in Unicode to 'i' and a combining dot, which no address may hold.
        let r = submit(&app, &body("Anna@İzmir.se", "7501")).await;
        assert_eq!(r.status(), 202);
        let again = submit(&app, &body("anna@İzmir.se", "7501")).await;
        assert_eq!(again.json::<Value>().await.unwrap()["duplicate"], true);
    }
);

both_backends!(
    a_phrase_proves_only_an_account_named_on_the_platform_it_came_from,
    |b: Backend| async move {
        let (app, archivist, officer, ch) = with_thread(b).await;
        // The same string names an Instagram account here; the phrase comes on Facebook.
        let s: Value = submit(
            &app,
            &json!({"type": "access", "email": "ig@example.se", "language": "sv",
                "identities": [{"platform": "instagram", "value": "501"}]}),
        )
        .await
        .json()
        .await
        .unwrap();
        let id = s["id"].as_i64().unwrap();
        let token = s["status_token"].as_str().unwrap();
        let v: Value = as_citizen(&app, token, "GET", &format!("/api/v1/requests/{id}"), None)
            .await
            .json()
            .await
            .unwrap();
        let phrase = v["account_phrase"].as_str().unwrap();
        let from_501 = json!({"id": "1_31", "from": {"id": "501", "name": "Anna Andersson"},
            "message": format!("Kod: {phrase}"), "created_time": "2026-11-01T10:00:00+0000",
            "parent": {"id": "1_10"}});
        assert_eq!(import(&app, &archivist, ch, &from_501).await.status(), 200);
        let v = get(&app, &officer, &format!("/api/v1/requests/{id}")).await;
        assert!(v["identities"][0]["verified_at"].is_null(), "{v}");
        assert_eq!(v["status"], "awaiting_verification");
    }
);

both_backends!(
    a_repeat_received_earlier_moves_the_clock_and_its_message_is_kept,
    |b: Backend| async move {
        let app = spawn_app(b).await;
        let (_, officer) = app.token("officer").await;
        let mut online = body("earlier@example.se", "7601");
        online["type"] = json!("rectification");
        online["message"] = json!("Mitt namn är felstavat.");
        let s: Value = submit(&app, &online).await.json().await.unwrap();
        let id = s["id"].as_i64().unwrap();
        // The same request came by letter three days before, and is registered now.
        let letter_day = chrono::Utc::now() - chrono::Duration::days(3);
        let mut letter = online.clone();
        letter["received_at"] = json!(letter_day);
        letter["message"] = json!("Det ska vara Eriksson, inte Ericsson.");
        let r: Value = app
            .post_json("/api/v1/requests", &officer, &letter)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!((&r["duplicate"], &r["id"]), (&json!(true), &json!(id)));
        let day = letter_day
            .with_timezone(&chrono_tz::Europe::Stockholm)
            .date_naive();
        let due = insyn::requests::clock::due_date(day, 1);
        assert_eq!(r["due_at"], json!(due));
        let v = get(&app, &officer, &format!("/api/v1/requests/{id}")).await;
        assert_eq!(v["due_at"], json!(due));
        let repeat = v["history"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["kind"] == "duplicate_received")
            .unwrap();
        assert_eq!(
            repeat["details"]["message"],
            "Det ska vara Eriksson, inte Ericsson."
        );
        // A repeat received later moves nothing back.
        let r: Value = submit(&app, &online).await.json().await.unwrap();
        assert_eq!(r["due_at"], json!(due));
    }
);
