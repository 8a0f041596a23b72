//! Moderation under the comment rules, registration numbers, blocks, classified records.
use crate::archive::{channel, get, import};
use crate::both_backends;
use crate::consent::{PAGE, record_id, thread};
use crate::helpers::{Backend, problem, spawn_app};
use chrono::Datelike;
use serde_json::{Value, json};

both_backends!(
    a_rule_breaking_record_is_saved_registered_and_taken_down,
    |b: Backend| async move {
        let app = spawn_app(b).await;
        let (_, archivist) = app.token("archivist").await;
        let (_, officer) = app.token("officer").await;
        let ch = channel(&app, &archivist, "facebook", PAGE).await;
        assert_eq!(import(&app, &archivist, ch, &thread()).await.status(), 200);
        let reply = record_id(&app, &archivist, ch, "1_12").await;
        let year = chrono::Utc::now().year();
        let path = format!("/api/v1/records/{reply}/moderation");

        let r = app
            .post_json(
                &path,
                &archivist,
                &json!({"rule": "rudeness", "action": "remove"}),
            )
            .await;
        assert_eq!(problem(r, 400).await["errors"][0]["field"], "rule");
        let r = app
            .post_json(
                &path,
                &archivist,
                &json!({"rule": "profanity", "action": "delete"}),
            )
            .await;
        assert_eq!(problem(r, 400).await["errors"][0]["field"], "action");
        let r = app
            .post_json(
                "/api/v1/records/999999/moderation",
                &archivist,
                &json!({"rule": "profanity", "action": "remove"}),
            )
            .await;
        problem(r, 404).await;
        let good =
            json!({"rule": "hate_or_harassment", "action": "remove", "note": "Personangrepp"});
        problem(app.post_json(&path, &officer, &good).await, 403).await;

        let r = app.post_json(&path, &archivist, &good).await;
        assert_eq!(r.status(), 201);
        let out: Value = r.json().await.unwrap();
        let number = format!("KS {year}-000001");
        assert_eq!(out["moderation"]["registration_number"], number.as_str());
        assert_eq!(out["version_count"], 2);
        assert_eq!(out["classified"], false);
        assert!(out["unpublish_task_id"].is_i64());

        let rec = get(&app, &archivist, &format!("/api/v1/records/{reply}")).await;
        assert_eq!(rec["registration_number"], number.as_str());
        assert_eq!(rec["versions"][1]["change"], "moderated");
        assert_eq!(
            rec["versions"][1]["content"]["moderation"]["rule"],
            "hate_or_harassment"
        );
        // The text is kept: the archive saves what broke the rules.
        assert_eq!(rec["text"], "Håller med");
        let verify = get(&app, &archivist, &format!("/api/v1/records/{reply}/verify")).await;
        assert_eq!(verify["intact"], true);
        let tasks = get(&app, &archivist, "/api/v1/unpublish-tasks?status=open").await;
        assert_eq!(tasks["tasks"][0]["reason"], "moderation");
        assert_eq!(tasks["tasks"][0]["action"], "remove");

        // Blocking the author reuses the record's registration number.
        let r = app
            .post_json(
                &path,
                &archivist,
                &json!({"rule": "hate_or_harassment", "action": "block_author"}),
            )
            .await;
        let out: Value = r.json().await.unwrap();
        assert_eq!(out["moderation"]["registration_number"], number.as_str());
        let bo = crate::consent::identity(&app, &officer, "502").await;
        assert_eq!(out["blocked_identity_id"], bo);
        let blocks = get(&app, &officer, "/api/v1/blocks").await;
        assert_eq!(blocks[0]["identity_id"], bo);
        assert_eq!(blocks[0]["channel_id"], ch);
        // The municipality's own reply has no author to block, and nothing is written.
        let own = record_id(&app, &archivist, ch, "1_11").await;
        let r = app
            .post_json(
                &format!("/api/v1/records/{own}/moderation"),
                &archivist,
                &json!({"rule": "profanity", "action": "block_author"}),
            )
            .await;
        assert_eq!(problem(r, 400).await["errors"][0]["field"], "action");
        let rec = get(&app, &archivist, &format!("/api/v1/records/{own}")).await;
        assert!(rec["registration_number"].is_null(), "{rec}");
        assert_eq!(
            get(&app, &officer, "/api/v1/blocks")
                .await
                .as_array()
                .unwrap()
                .len(),
            1
        );
        let decisions = get(
            &app,
            &officer,
            &format!("/api/v1/records/{reply}/moderation"),
        )
        .await;
        assert_eq!(decisions.as_array().unwrap().len(), 2);

        // Classified content is seen by officers only.
        let comment = record_id(&app, &archivist, ch, "1_10").await;
        let r = app
            .post_json(
                &format!("/api/v1/records/{comment}/moderation"),
                &archivist,
                &json!({"rule": "classified_information", "action": "hide"}),
            )
            .await;
        let out: Value = r.json().await.unwrap();
        assert_eq!(out["classified"], true);
        assert_eq!(
            out["moderation"]["registration_number"],
            format!("KS {year}-000002")
        );
        let r = app
            .client
            .get(app.url(&format!("/api/v1/records/{comment}")))
            .bearer_auth(&archivist)
            .send()
            .await
            .unwrap();
        problem(r, 404).await;
        let listed = get(&app, &archivist, &format!("/api/v1/records?channel={ch}")).await;
        assert!(
            listed["records"]
                .as_array()
                .unwrap()
                .iter()
                .all(|r| r["id"] != comment)
        );
        let seen = get(&app, &officer, &format!("/api/v1/records/{comment}")).await;
        assert_eq!(seen["classified"], true);
        // Nor its moderation decisions: an archivist or auditor gets the record's 404, an officer
        // the decision; a record that does not exist is a 404 too.
        let (_, auditor) = app.token("auditor").await;
        for (token, id) in [
            (&archivist, comment),
            (&auditor, comment),
            (&officer, 999_999),
        ] {
            let r = app
                .client
                .get(app.url(&format!("/api/v1/records/{id}/moderation")))
                .bearer_auth(token)
                .send()
                .await
                .unwrap();
            problem(r, 404).await;
        }
        let decisions = get(
            &app,
            &officer,
            &format!("/api/v1/records/{comment}/moderation"),
        )
        .await;
        assert_eq!(decisions[0]["rule"], "classified_information");

        // An individual matter is registered once, with the next number.
        let post = record_id(&app, &archivist, ch, &format!("{PAGE}_1")).await;
        let reg_path = format!("/api/v1/records/{post}/registration");
        let r = app
            .post_json(&reg_path, &officer, &json!({"title": "  "}))
            .await;
        assert_eq!(problem(r, 400).await["errors"][0]["field"], "title");
        let r = app
            .post_json(
                &reg_path,
                &officer,
                &json!({"title": "Fråga om badets öppettider"}),
            )
            .await;
        assert_eq!(r.status(), 201);
        assert_eq!(
            r.json::<Value>().await.unwrap()["number"],
            format!("KS {year}-000003")
        );
        let r = app
            .post_json(&reg_path, &officer, &json!({"title": "Igen"}))
            .await;
        problem(r, 409).await;
        let rec = get(&app, &officer, &format!("/api/v1/records/{post}")).await;
        assert_eq!(rec["versions"][1]["change"], "registered");

        let regs = get(&app, &officer, "/api/v1/registrations").await;
        let seqs: Vec<i64> = regs["registrations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["seq"].as_i64().unwrap())
            .collect();
        assert_eq!(seqs, [1, 2, 3]);
        let reasons: Vec<&str> = regs["registrations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["reason"].as_str().unwrap())
            .collect();
        assert_eq!(
            reasons,
            ["rule_breaking", "rule_breaking", "individual_matter"]
        );
        let audit = get(&app, &app.admin, "/api/v1/audit/verify").await;
        assert_eq!(audit["intact"], true);
    }
);

both_backends!(
    registration_numbers_have_no_gap_and_no_duplicate_under_concurrency,
    |b: Backend| async move {
        let app = spawn_app(b).await;
        let numbering = insyn::registry::Numbering {
            series: "KS".into(),
            pattern: "{series} {year}-{seq}".into(),
            time_zone: chrono_tz::Europe::Stockholm,
        };
        let mut tasks = vec![];
        for t in 0..8 {
            let db = app.db.clone();
            let numbering = numbering.clone();
            tasks.push(tokio::spawn(async move {
                let mut numbers = vec![];
                for i in 0..25 {
                    use sea_orm::TransactionTrait;
                    let txn = db.begin().await.unwrap();
                    let reg = insyn::registry::register(
                        &txn,
                        &numbering,
                        insyn::registry::NewRegistration {
                            reason: insyn::registry::rules::RegistrationReason::Request,
                            record_id: None,
                            request_id: Some(t * 100 + i),
                            title: "concurrent".into(),
                        },
                        &insyn::audit::Actor::cli(),
                    )
                    .await
                    .unwrap();
                    txn.commit().await.unwrap();
                    numbers.push(reg.seq);
                }
                numbers
            }));
        }
        let mut all = vec![];
        for t in tasks {
            all.extend(t.await.unwrap());
        }
        all.sort_unstable();
        assert_eq!(all, (1..=200).collect::<Vec<i64>>());
    }
);

both_backends!(
    decisions_made_at_once_on_one_record_or_task_take_effect_once,
    |b: Backend| async move {
        let app = spawn_app(b).await;
        let (_, archivist) = app.token("archivist").await;
        let (_, officer) = app.token("officer").await;
        let ch = channel(&app, &archivist, "facebook", PAGE).await;
        assert_eq!(import(&app, &archivist, ch, &thread()).await.status(), 200);
        let post = record_id(&app, &archivist, ch, &format!("{PAGE}_1")).await;
        let reply = record_id(&app, &archivist, ch, "1_12").await;
        // Eight calls at once of each: one registration, one moderation decision's registration
        // number, one close of the task.
        let at_once = |path: String, token: String, body: Value| {
            let calls: Vec<_> = (0..8)
                .map(|_| {
                    let call = app
                        .client
                        .post(app.url(&path))
                        .bearer_auth(&token)
                        .json(&body);
                    tokio::spawn(async move { call.send().await.unwrap().status().as_u16() })
                })
                .collect();
            async move {
                let mut codes = vec![];
                for c in calls {
                    codes.push(c.await.unwrap());
                }
                codes
            }
        };
        let mut codes = at_once(
            format!("/api/v1/records/{post}/registration"),
            officer.clone(),
            json!({"title": "Fråga om badet"}),
        )
        .await;
        codes.sort_unstable();
        assert_eq!(codes, [201, 409, 409, 409, 409, 409, 409, 409]);
        let rec = get(&app, &officer, &format!("/api/v1/records/{post}")).await;
        assert_eq!(rec["versions"].as_array().unwrap().len(), 2, "{rec}");
        let regs = get(&app, &officer, "/api/v1/registrations").await;
        assert_eq!(regs["registrations"].as_array().unwrap().len(), 1);

        let codes = at_once(
            format!("/api/v1/records/{reply}/moderation"),
            archivist.clone(),
            json!({"rule": "profanity", "action": "remove"}),
        )
        .await;
        assert!(codes.iter().all(|c| *c == 201), "{codes:?}");
        let regs = get(&app, &officer, "/api/v1/registrations").await;
        assert_eq!(
            regs["registrations"].as_array().unwrap().len(),
            2,
            "one number for the moderated reply, however many decisions: {regs}"
        );

        let open = get(&app, &archivist, "/api/v1/unpublish-tasks?status=open").await;
        let task = open["tasks"][0]["id"].as_i64().unwrap();
        let mut codes = at_once(
            format!("/api/v1/unpublish-tasks/{task}/close"),
            archivist.clone(),
            json!({"status": "done"}),
        )
        .await;
        codes.sort_unstable();
        assert_eq!(codes, [200, 409, 409, 409, 409, 409, 409, 409]);
        let audit = get(
            &app,
            &app.admin,
            &format!("/api/v1/audit?target=unpublish_task:{task}"),
        )
        .await;
        let closes = audit["entries"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["action"] == "unpublish_task.close")
            .count();
        assert_eq!(closes, 1);
    }
);
