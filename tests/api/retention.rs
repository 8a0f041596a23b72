//! Disposal decisions, legal holds and the disposal run.
use crate::archive::{channel, get, import};
use crate::both_backends;
use crate::consent::{PAGE, identity, record_id, thread};
use crate::helpers::{Backend, problem, spawn_app};
use serde_json::{Value, json};

/// Makes a disposal decision as `token`'s holder.
pub(crate) async fn decide(app: &crate::helpers::TestApp, token: &str, decision: Value) {
    let r = app
        .post_json("/api/v1/disposal-decisions", token, &decision)
        .await;
    assert_eq!(r.status(), 201, "{decision}");
}

/// Whether a disposal run only lists what it would dispose of.
#[derive(Clone, Copy)]
pub(crate) enum DryRun {
    Yes,
    No,
}

/// A disposal run as `token`'s holder starts it, and its answer.
pub(crate) async fn dispose(app: &crate::helpers::TestApp, token: &str, dry: DryRun) -> Value {
    let dry_run = matches!(dry, DryRun::Yes);
    let r = app
        .client
        .post(app.url(&format!("/api/v1/disposals?dry_run={dry_run}")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

both_backends!(
    disposal_follows_decisions_and_spares_holds_and_registrations,
    |b: Backend| async move {
        let app = spawn_app(b).await;
        let (_, archivist) = app.token("archivist").await;
        let (_, officer) = app.token("officer").await;
        let ch = channel(&app, &archivist, "facebook", PAGE).await;
        assert_eq!(import(&app, &archivist, ch, &thread()).await.status(), 200);

        // Bad input names the field.
        let bad = |rules: Value| json!({"reference": "KS 2024-0456", "title": "Gallring", "decided_on": "2024-05-01", "rules": rules});
        let r = app
            .post_json(
                "/api/v1/disposal-decisions",
                &archivist,
                &bad(json!([{"keep": "3 years"}])),
            )
            .await;
        assert_eq!(problem(r, 400).await["errors"][0]["field"], "rules/0/keep");
        // Periods too long to count with are refused, not wrapped round to nothing (which would
        // have made every record disposable at once).
        for keep in [
            "P1000Y4294955296M",
            "P613566757W",
            "P1W4294967295D",
            "P12001M",
        ] {
            let r = app
                .post_json(
                    "/api/v1/disposal-decisions",
                    &archivist,
                    &bad(json!([{"keep": keep}])),
                )
                .await;
            let p = problem(r, 400).await;
            assert_eq!(p["errors"][0]["field"], "rules/0/keep", "{keep}: {p}");
            assert!(p["errors"][0]["reason"].as_str().unwrap().contains("never"));
        }
        let r = app
            .post_json(
                "/api/v1/disposal-decisions",
                &archivist,
                &bad(json!([{"kind": "tweet", "keep": "P1Y"}])),
            )
            .await;
        let p = problem(r, 400).await;
        assert!(
            p["errors"][0]["field"]
                .as_str()
                .unwrap()
                .starts_with("rules"),
            "{p}"
        );
        let r = app
            .post_json(
                "/api/v1/disposal-decisions",
                &officer,
                &bad(json!([{"keep": "P1Y"}])),
            )
            .await;
        problem(r, 403).await;

        // Received comments and replies go after a year; nothing else is covered.
        let decision = bad(json!([
            {"kind": "comment", "direction": "received", "keep": "P1Y"},
            {"kind": "reply", "direction": "received", "keep": "P1Y"}
        ]));
        let r = app
            .post_json("/api/v1/disposal-decisions", &archivist, &decision)
            .await;
        assert_eq!(r.status(), 201);
        let created: Value = r.json().await.unwrap();
        assert_eq!(created["rules"][0]["kind"], "comment");
        let r = app
            .post_json("/api/v1/disposal-decisions", &archivist, &decision)
            .await;
        problem(r, 409).await;

        let comment = record_id(&app, &archivist, ch, "1_10").await;
        let own_reply = record_id(&app, &archivist, ch, "1_11").await;
        let bo_reply = record_id(&app, &archivist, ch, "1_12").await;
        let post = record_id(&app, &archivist, ch, &format!("{PAGE}_1")).await;
        let rec = get(&app, &archivist, &format!("/api/v1/records/{comment}")).await;
        assert_eq!(rec["retention"]["decision_reference"], "KS 2024-0456");
        assert_eq!(rec["retention"]["disposable_from"], "2025-03-01");
        let rec = get(&app, &archivist, &format!("/api/v1/records/{post}")).await;
        assert_eq!(rec["retention"]["covered"], false);

        // Holds: bad input, then one over Anna.
        let r = app
            .post_json(
                "/api/v1/legal-holds",
                &officer,
                &json!({"reason": "Utredning", "scope": "identity", "from": "2026-01-01"}),
            )
            .await;
        assert_eq!(problem(r, 400).await["errors"][0]["field"], "identity_id");
        let r = app
            .post_json(
                "/api/v1/legal-holds",
                &officer,
                &json!({"reason": "Utredning", "scope": "channel", "channel_id": ch,
            "from": "2026-02-01", "until": "2026-01-01"}),
            )
            .await;
        assert_eq!(problem(r, 400).await["errors"][0]["field"], "until");
        let r = app
            .post_json(
                "/api/v1/legal-holds",
                &officer,
                &json!({"reason": "Utredning", "scope": "identity", "identity_id": 999999,
            "from": "2026-01-01"}),
            )
            .await;
        assert_eq!(problem(r, 400).await["errors"][0]["field"], "identity_id");
        let anna = identity(&app, &officer, "501").await;
        let r = app
            .post_json(
                "/api/v1/legal-holds",
                &officer,
                &json!({"reason": "Polisanmälan", "scope": "identity", "identity_id": anna,
            "from": "2026-01-01"}),
            )
            .await;
        assert_eq!(r.status(), 201);
        let holds = get(&app, &officer, "/api/v1/legal-holds").await;
        assert_eq!(holds[0]["identity_id"], anna);
        let rec = get(&app, &archivist, &format!("/api/v1/records/{comment}")).await;
        assert_eq!(rec["retention"]["held_by"].as_array().unwrap().len(), 1);

        // Bo's reply is registered (moderated): registered records are never swept.
        let r = app
            .post_json(
                &format!("/api/v1/records/{bo_reply}/moderation"),
                &archivist,
                &json!({"rule": "profanity", "action": "remove"}),
            )
            .await;
        assert_eq!(r.status(), 201);
        // Its retention says so, rather than a date the disposal run will never act on.
        let rec = get(&app, &archivist, &format!("/api/v1/records/{bo_reply}")).await;
        assert_eq!(rec["retention"]["registered"], true, "{rec}");
        assert_eq!(rec["retention"]["decision_reference"], "KS 2024-0456");
        assert!(rec["retention"].get("disposable_from").is_none(), "{rec}");
        let rec = get(&app, &archivist, &format!("/api/v1/records/{comment}")).await;
        assert_eq!(rec["retention"]["registered"], false);

        // Dry run: only the Page's own reply? No: it is drawn up, and the decision covers received.
        let dry: Value = app
            .client
            .post(app.url("/api/v1/disposals"))
            .bearer_auth(&officer)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(dry["executed"], false);
        assert_eq!(dry["disposed"], 0, "{dry}");

        // A hold that has ended no longer keeps Anna's comment; a new decision covers the Page's reply.
        decide(
            &app,
            &archivist,
            json!({"reference": "KS 2024-0999", "title": "Egna svar", "decided_on": "2024-06-01",
                        "rules": [{"kind": "reply", "direction": "drawn_up", "keep": "P6M"}]}),
        )
        .await;
        let dry = dispose(&app, &officer, DryRun::Yes).await;
        assert_eq!(dry["disposed"], 1, "{dry}");
        assert_eq!(dry["by_decision"][0]["decision"], "KS 2024-0999");
        assert_eq!(dry["by_decision"][0]["record_ids"][0], own_reply);
        get(&app, &archivist, &format!("/api/v1/records/{own_reply}")).await;

        let r = app
            .client
            .post(app.url("/api/v1/disposals?dry_run=false"))
            .bearer_auth(&officer)
            .send()
            .await
            .unwrap();
        problem(r, 403).await;
        let done = dispose(&app, &archivist, DryRun::No).await;
        assert_eq!(done["executed"], true);
        assert_eq!(done["disposed"], 1);
        let r = app
            .client
            .get(app.url(&format!("/api/v1/records/{own_reply}")))
            .bearer_auth(&archivist)
            .send()
            .await
            .unwrap();
        problem(r, 404).await;
        for kept in [comment, bo_reply, post] {
            get(&app, &archivist, &format!("/api/v1/records/{kept}")).await;
        }
        let audit = get(&app, &app.admin, "/api/v1/audit?action=archive.dispose").await;
        let entry = &audit["entries"][0];
        assert_eq!(
            entry["details"]["disposed"]["KS 2024-0999"]["records"][0],
            own_reply
        );
        assert!(
            !entry.to_string().contains("Välkommen"),
            "content never reaches the log"
        );
        assert_eq!(
            get(&app, &app.admin, "/api/v1/audit/verify").await["intact"],
            true
        );
    }
);

both_backends!(
    the_daily_disposal_job_runs_and_schedules_the_next,
    |b: Backend| async move {
        use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};
        let app = spawn_app(b).await;
        let jobs = || {
            entities::job::Entity::find()
                .filter(entities::job::Column::Kind.eq(insyn::retention::JOB_KIND))
                .order_by_asc(entities::job::Column::Id)
                .all(&app.db)
        };
        // The service scheduled the first run when it started.
        let waiting = jobs().await.unwrap();
        assert_eq!(waiting.len(), 1);
        assert!(waiting[0].run_at > insyn::audit::now());
        // Its time comes: the service's own runner runs it and queues tomorrow's, once.
        let mut due: entities::job::ActiveModel = waiting[0].clone().into();
        due.run_at = Set(insyn::audit::now());
        due.update(&app.db).await.unwrap();
        let mut seen = vec![];
        for _ in 0..100 {
            seen = jobs().await.unwrap();
            if seen[0].status == insyn::jobs::rules::DONE && seen.len() == 2 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert_eq!(seen[0].status, insyn::jobs::rules::DONE, "{seen:?}");
        assert_eq!(seen.len(), 2, "{seen:?}");
        assert_eq!(seen[1].status, insyn::jobs::rules::QUEUED);
        assert!(seen[1].run_at > insyn::audit::now());
        let audit = get(&app, &app.admin, "/api/v1/audit?action=archive.dispose").await;
        assert_eq!(audit["entries"][0]["actor"], "job:retention.dispose");
    }
);

both_backends!(
    a_disposed_records_consent_entries_go_with_it,
    |b: Backend| async move {
        let app = spawn_app(b).await;
        let (_, archivist) = app.token("archivist").await;
        let (_, officer) = app.token("officer").await;
        let ch = channel(&app, &archivist, "facebook", PAGE).await;
        assert_eq!(import(&app, &archivist, ch, &thread()).await.status(), 200);
        // Cecilia (503) only reacted: her reaction is her one consent entry.
        let cecilia = identity(&app, &officer, "503").await;
        let ledger = get(
            &app,
            &officer,
            &format!("/api/v1/consents?identity={cecilia}"),
        )
        .await;
        assert_eq!(ledger["events"].as_array().unwrap().len(), 1, "{ledger}");
        decide(
            &app,
            &archivist,
            json!({"reference": "KS 2024-0456", "title": "Reaktioner", "decided_on": "2024-05-01",
                        "rules": [{"kind": "reaction", "keep": "P0D"}]}),
        )
        .await;
        let done = dispose(&app, &archivist, DryRun::No).await;
        assert_eq!(done["disposed"], 3, "{done}");
        let ledger = get(
            &app,
            &officer,
            &format!("/api/v1/consents?identity={cecilia}"),
        )
        .await;
        assert_eq!(ledger["events"], json!([]), "{ledger}");
        let audit = get(&app, &app.admin, "/api/v1/audit?action=archive.dispose").await;
        assert_eq!(
            audit["entries"][0]["details"]["consent_events"], 3,
            "{audit}"
        );
    }
);

both_backends!(
    a_disposed_record_that_kept_records_answer_stays_as_a_tombstone,
    |b: Backend| async move {
        let app = spawn_app(b).await;
        let (_, archivist) = app.token("archivist").await;
        let (_, officer) = app.token("officer").await;
        let ch = channel(&app, &archivist, "facebook", PAGE).await;
        assert_eq!(import(&app, &archivist, ch, &thread()).await.status(), 200);
        let comment = record_id(&app, &archivist, ch, "1_10").await;
        let bo_reply = record_id(&app, &archivist, ch, "1_12").await;
        // Bo's reply to Anna's comment is held; Anna's comment may go.
        let bo = identity(&app, &officer, "502").await;
        let r = app
            .post_json(
                "/api/v1/legal-holds",
                &officer,
                &json!({"reason": "Polisanmälan", "scope": "identity", "identity_id": bo,
                    "from": "2026-01-01"}),
            )
            .await;
        assert_eq!(r.status(), 201);
        decide(
            &app,
            &archivist,
            json!({"reference": "KS 2024-0456", "title": "Kommentarer", "decided_on": "2024-05-01",
                        "rules": [{"kind": "comment", "keep": "P0D"}]}),
        )
        .await;
        let before = get(&app, &archivist, &format!("/api/v1/records/{bo_reply}")).await;
        assert_eq!(before["parent_id"], comment);

        let done = dispose(&app, &archivist, DryRun::No).await;
        assert_eq!(done["disposed"], 1, "{done}");
        assert_eq!(done["by_decision"][0]["record_ids"], json!([comment]));
        // The comment is gone from every read; the held reply is as it was, its link included.
        let r = app
            .client
            .get(app.url(&format!("/api/v1/records/{comment}")))
            .bearer_auth(&archivist)
            .send()
            .await
            .unwrap();
        problem(r, 404).await;
        let after = get(&app, &archivist, &format!("/api/v1/records/{bo_reply}")).await;
        assert_eq!(after, before);
        let verify = get(
            &app,
            &archivist,
            &format!("/api/v1/records/{bo_reply}/verify"),
        )
        .await;
        assert_eq!(verify["intact"], true);
        // What is left of the comment is not disposed of again.
        assert_eq!(dispose(&app, &archivist, DryRun::No).await["disposed"], 0);
    }
);

both_backends!(
    a_decision_disposes_of_nothing_before_the_day_it_was_made,
    |b: Backend| async move {
        let app = spawn_app(b).await;
        let (_, archivist) = app.token("archivist").await;
        let ch = channel(&app, &archivist, "facebook", PAGE).await;
        assert_eq!(import(&app, &archivist, ch, &thread()).await.status(), 200);
        decide(
            &app,
            &archivist,
            json!({"reference": "KS 2099-0001", "title": "Reaktioner", "decided_on": "2099-01-01",
                        "rules": [{"kind": "reaction", "keep": "P0D"}]}),
        )
        .await;
        let dry = dispose(&app, &archivist, DryRun::Yes).await;
        assert_eq!(dry["disposed"], 0, "{dry}");
        let reaction =
            get(&app, &archivist, "/api/v1/records?kind=reaction").await["records"][0]["id"]
                .as_i64()
                .unwrap();
        let rec = get(&app, &archivist, &format!("/api/v1/records/{reaction}")).await;
        assert_eq!(rec["retention"]["disposable_from"], "2099-01-01");
    }
);
