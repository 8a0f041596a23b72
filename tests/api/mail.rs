use crate::both_backends;
use crate::helpers::{Backend, TestApp, fresh_database_url, problem, spawn_app, spawn_app_with};
use crate::smtp::{SmtpServer, free_port};
use sea_orm::{EntityTrait, QueryOrder};
use std::time::Duration;

async fn queue_test_mail(app: &TestApp, to: &str) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/mail/test"))
        .bearer_auth(&app.admin)
        .json(&serde_json::json!({"to": to, "language": "en"}))
        .send()
        .await
        .unwrap()
}

/// A mail waiting in the outbox, written there as a transaction of the service's would.
async fn unsent(app: &TestApp, to: &str, subject: &str, text: &str) -> entities::outbox::Model {
    use sea_orm::{ActiveModelTrait, Set};
    let at = insyn::audit::now();
    entities::outbox::ActiveModel {
        recipient: Set(to.into()),
        subject: Set(subject.into()),
        body_text: Set(text.into()),
        body_html: Set(format!("<p>{text}</p>")),
        status: Set("queued".into()),
        attempts: Set(0),
        next_attempt_at: Set(at),
        last_error: Set(None),
        created_at: Set(at),
        sent_at: Set(None),
        ..Default::default()
    }
    .insert(&app.db)
    .await
    .unwrap()
}

async fn outbox(app: &TestApp) -> Vec<entities::outbox::Model> {
    entities::outbox::Entity::find()
        .order_by_asc(entities::outbox::Column::Id)
        .all(&app.db)
        .await
        .unwrap()
}

both_backends!(
    mail_goes_through_the_outbox_to_a_real_smtp_server,
    |b: Backend| async move {
        let smtp = SmtpServer::start().await;
        let url = smtp.url();
        let app = spawn_app_with(b, move |s| {
            s.smtp_url = Some(url);
            s.mail_from = "Kommunen <dataskydd@kommun.example>".into();
        })
        .await;
        let r = queue_test_mail(&app, "anna@example.se").await;
        assert_eq!(r.status(), 202);
        let messages = smtp.wait_for(1).await;
        let m = &messages[0];
        assert!(m.contains("To: anna@example.se"), "{m}");
        assert!(
            m.contains("From: Kommunen <dataskydd@kommun.example>"),
            "{m}"
        );
        assert!(m.contains("Subject: Test message from insyn"), "{m}");
        assert!(
            m.contains("text/plain") && m.contains("text/html"),
            "both parts: {m}"
        );
        assert!(m.contains("This is a test message"), "{m}");
        // The outbox records the delivery.
        for _ in 0..50 {
            if outbox(&app).await[0].status == "sent" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let rows = outbox(&app).await;
        assert_eq!(rows[0].status, "sent");
        assert!(rows[0].sent_at.is_some());
    }
);

both_backends!(
    smtp_down_then_up_delivers_exactly_once,
    |b: Backend| async move {
        let port = free_port();
        let app = spawn_app_with(b, move |s| {
            s.smtp_url = Some(format!("smtp://127.0.0.1:{port}"))
        })
        .await;
        assert_eq!(queue_test_mail(&app, "bo@example.se").await.status(), 202);
        // The first attempt fails: nothing listens yet. The mail waits with its error recorded.
        let mut failed = false;
        for _ in 0..100 {
            let rows = outbox(&app).await;
            if rows[0].attempts >= 1 {
                assert_eq!(rows[0].status, "queued");
                assert!(rows[0].last_error.as_deref().unwrap().contains("SMTP"));
                assert!(
                    !rows[0]
                        .last_error
                        .as_deref()
                        .unwrap()
                        .contains("bo@example.se")
                );
                failed = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(failed, "the first attempt never happened");
        let smtp = SmtpServer::start_on(port).await;
        // Skip the backoff wait rather than sleep through it.
        use sea_orm::sea_query::Expr;
        entities::job::Entity::update_many()
            .col_expr(
                entities::job::Column::RunAt,
                Expr::value(insyn::audit::now()),
            )
            .exec(&app.db)
            .await
            .unwrap();
        smtp.wait_for(1).await;
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert_eq!(smtp.messages().len(), 1, "the mail arrived more than once");
        assert_eq!(outbox(&app).await[0].status, "sent");
    }
);

both_backends!(
    without_smtp_mail_waits_in_the_outbox,
    |b: Backend| async move {
        let app = spawn_app(b).await;
        assert_eq!(
            queue_test_mail(&app, "cecilia@example.se").await.status(),
            202
        );
        tokio::time::sleep(Duration::from_millis(1200)).await;
        let rows = outbox(&app).await;
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].status, "queued");
        assert_eq!(rows[0].attempts, 0);
        // And it survives a restart: a new instance on the same database still has it queued.
        let db = insyn::db::connect(&app.database_url).await.unwrap();
        let again = entities::outbox::Entity::find().all(&db).await.unwrap();
        assert_eq!(again[0].status, "queued");

        let bad = queue_test_mail(&app, "not-an-address").await;
        let p = problem(bad, 400).await;
        assert_eq!(p["errors"][0]["field"], "to");
        assert_eq!(
            outbox(&app).await.len(),
            1,
            "a rejected request writes nothing"
        );
    }
);

both_backends!(
    a_mail_that_can_never_be_sent_holds_back_no_other_of_its_job,
    |b: Backend| async move {
        let smtp = SmtpServer::start().await;
        let url = smtp.url();
        let app = spawn_app_with(b, move |s| s.smtp_url = Some(url)).await;
        // Two mails of one transaction share one job; the first can never be sent.
        let mut ids = vec![];
        for to in ["not an address", "cia@example.se"] {
            ids.push(unsent(&app, to, "Ärende DSR-2026-000001", "Hej").await.id);
        }
        insyn::jobs::store::enqueue(
            &app.db,
            insyn::mail::store::JOB_KIND,
            &insyn::mail::store::payload(&ids),
        )
        .await
        .unwrap();
        let messages = smtp.wait_for(1).await;
        assert!(
            messages[0].contains("To: cia@example.se"),
            "{}",
            messages[0]
        );
        // The job is done: the good mail went, and the other never can.
        let mut job = None;
        for _ in 0..50 {
            job = entities::job::Entity::find()
                .all(&app.db)
                .await
                .unwrap()
                .into_iter()
                .find(|j| j.kind == insyn::mail::store::JOB_KIND && j.status == "done");
            if job.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        job.expect("the job never finished");
        let rows = outbox(&app).await;
        assert_eq!(
            (rows[0].status.as_str(), rows[1].status.as_str()),
            ("undeliverable", "sent")
        );
        assert_eq!(
            rows[0].last_error.as_deref(),
            Some("the recipient is not an address")
        );
        assert_eq!(rows[0].attempts, 1);
    }
);

both_backends!(
    mails_sent_before_secrets_were_sealed_lose_their_secrets_on_upgrade,
    |b: Backend| async move {
        use migrations::{Migrator, MigratorTrait};
        use sea_orm::ConnectionTrait;
        let (url, _dir) = fresh_database_url(b).await;
        let db = insyn::db::connect(&url).await.unwrap();
        // The schema as it was before mail kept its secrets sealed, with a receipt and a code
        // that were sent and a code that was not yet.
        Migrator::up(&db, Some(24)).await.unwrap();
        let token = format!("dsr_{}", "0f".repeat(32));
        let receipt = format!(
            "Här kan du följa ditt ärende: https://insyn.example/requests/1?token={token}\n"
        );
        for (subject, text, status) in [
            (
                "Vi har tagit emot din begäran – DSR-2026-000001",
                receipt.as_str(),
                "sent",
            ),
            (
                "Din kod för ärende DSR-2026-000001",
                "Din kod är: 12345678\n",
                "sent",
            ),
            (
                "Your code for request DSR-2026-000002",
                "Your code is: 87654321\n",
                "queued",
            ),
        ] {
            let html = format!("<p>{text}</p>");
            db.execute_unprepared(&format!(
                "INSERT INTO outbox (recipient, subject, body_text, body_html, status, attempts, \
                 next_attempt_at, created_at) VALUES ('anna@example.se', '{subject}', '{text}', \
                 '{html}', '{status}', 0, '2026-11-20 10:00:00+00:00', '2026-11-20 10:00:00+00:00')"
            ))
            .await
            .unwrap();
        }
        Migrator::up(&db, None).await.unwrap();
        let rows = entities::outbox::Entity::find()
            .order_by_asc(entities::outbox::Column::Id)
            .all(&db)
            .await
            .unwrap();
        assert_eq!(
            rows[0].body_text,
            "Här kan du följa ditt ärende: https://insyn.example/requests/1?token={{secret}}\n"
        );
        assert!(!rows[0].body_html.contains(&token));
        assert_eq!(rows[1].body_text, "Din kod är: {{secret}}\n");
        assert_eq!(rows[1].body_html, "<p>Din kod är: {{secret}}\n</p>");
        // A mail not yet sent still needs its code: it is sent as it was written.
        assert_eq!(rows[2].body_text, "Your code is: 87654321\n");
        assert!(rows.iter().all(|r| r.secret_sealed.is_none()));
    }
);

both_backends!(
    a_mail_whose_secret_does_not_open_here_waits_for_an_instance_that_can,
    |b: Backend| async move {
        use sea_orm::{ActiveModelTrait, IntoActiveModel, Set};
        let smtp = SmtpServer::start().await;
        let url = smtp.url();
        let app = spawn_app_with(b, move |s| s.smtp_url = Some(url)).await;
        // A code mail sealed by another instance's key (a mistyped setting, another host's file).
        let row = unsent(&app, "cia@example.se", "Din kod", "Din kod är: {{secret}}").await;
        let other = insyn::secret::ServerSecret::new(b"another-instance-secret-of-32-chars");
        let sealed = other.seal_mail_secret(row.id, "cia@example.se", "12345678");
        let mut a = row.clone().into_active_model();
        a.secret_sealed = Set(Some(sealed.clone()));
        a.update(&app.db).await.unwrap();
        insyn::jobs::store::enqueue(
            &app.db,
            insyn::mail::store::JOB_KIND,
            &insyn::mail::store::payload(&[row.id]),
        )
        .await
        .unwrap();
        let mut seen = None;
        for _ in 0..50 {
            let r = outbox(&app).await.remove(0);
            if r.attempts > 0 {
                seen = Some(r);
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // Not sent, not given up on, and its secret kept for an instance that can open it.
        let r = seen.expect("the mail was never tried");
        assert_eq!(r.status, "queued");
        assert_eq!(r.secret_sealed.as_deref(), Some(sealed.as_str()));
        assert!(r.last_error.unwrap().contains("does not open"));
        assert!(smtp.messages().is_empty());
    }
);
