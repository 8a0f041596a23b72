//! Rectification, restriction, objection and consent withdrawal carried out on a verified request.
use crate::archive::{channel, get, import};
use crate::both_backends;
use crate::consent::{PAGE, record_id, thread};
use crate::helpers::{Backend, TestApp, problem, spawn_app};
use serde_json::{Value, json};

/// A request for `kind` by Anna (501), verified by an officer and assigned.
async fn started(app: &TestApp, officer: &str, kind: &str) -> i64 {
    let s: Value = app
        .client
        .post(app.url("/api/v1/requests"))
        .json(
            &json!({"type": kind, "email": format!("anna+{kind}@example.se"),
            "identities": [{"platform": "facebook", "value": "501"}]}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = s["id"].as_i64().unwrap();
    app.post_json(
        &format!("/api/v1/requests/{id}/verify-identity"),
        officer,
        &json!({"method": "e_id"}),
    )
    .await;
    app.post_json(
        &format!("/api/v1/requests/{id}/assign"),
        officer,
        &json!({"assignee": "dpo"}),
    )
    .await;
    id
}

async fn tasks(app: &TestApp, token: &str, reason: &str) -> usize {
    let t = get(app, token, "/api/v1/unpublish-tasks?status=open&limit=1000").await;
    t["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["reason"] == reason)
        .count()
}

both_backends!(
    rights_are_carried_out_without_touching_the_archive,
    |b: Backend| async move {
        let app = spawn_app(b).await;
        let (_, archivist) = app.token("archivist").await;
        let (_, officer) = app.token("officer").await;
        let ch = channel(&app, &archivist, "facebook", PAGE).await;
        assert_eq!(import(&app, &archivist, ch, &thread()).await.status(), 200);
        let comment = record_id(&app, &officer, ch, "1_10").await;
        let bo_reply = record_id(&app, &officer, ch, "1_12").await;

        // Rectification: a note beside the record; the record is as it was.
        let id = started(&app, &officer, "rectification").await;
        let path = format!("/api/v1/requests/{id}/carry-out");
        let r = app
            .post_json(&path, &officer, &json!({"record_ids": [comment]}))
            .await;
        assert_eq!(problem(r, 400).await["errors"][0]["field"], "note");
        let r = app
            .post_json(
                &path,
                &officer,
                &json!({"record_ids": [bo_reply], "note": "x"}),
            )
            .await;
        assert_eq!(
            problem(r, 400).await["errors"][0]["field"],
            "record_ids",
            "not her record"
        );
        let r = app
            .post_json(
                &path,
                &officer,
                &json!({"record_ids": [comment], "note": "Jag menade badhuset, inte badet."}),
            )
            .await;
        assert_eq!(r.json::<Value>().await.unwrap()["status"], "completed");
        let rec = get(&app, &officer, &format!("/api/v1/records/{comment}")).await;
        assert_eq!(rec["notes"][0]["note"], "Jag menade badhuset, inte badet.");
        assert_eq!(rec["version_count"], 1);
        assert_eq!(rec["text"], "Äntligen!");
        let r = app.post_json(&path, &officer, &json!({})).await;
        problem(r, 409).await;

        // Objection: publication stops, archiving goes on.
        let id = started(&app, &officer, "objection").await;
        let r = app
            .post_json(
                &format!("/api/v1/requests/{id}/carry-out"),
                &officer,
                &json!({}),
            )
            .await;
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["status"], "completed");
        let answer: Vec<&str> = v["answer"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l.as_str().unwrap())
            .collect();
        assert_eq!(answer.len(), 2, "{v}");
        assert!(answer[0].starts_with("Publiceringen upphör: 3 "), "{v}");
        assert_eq!(tasks(&app, &archivist, "objection").await, 3);
        get(&app, &officer, &format!("/api/v1/records/{comment}")).await;

        // Withdrawal through a request: the ledger says so, and by which request.
        let id = started(&app, &officer, "withdraw_consent").await;
        app.post_json(
            &format!("/api/v1/requests/{id}/carry-out"),
            &officer,
            &json!({}),
        )
        .await;
        let anna = crate::consent::identity(&app, &officer, "501").await;
        let ledger = get(&app, &officer, &format!("/api/v1/consents?identity={anna}")).await;
        let withdrawn = ledger["events"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["event"] == "withdrawn")
            .unwrap();
        assert_eq!(withdrawn["actor"], format!("request:{id}"));

        // Restriction: hidden from archivists' listings and left out of packages; lifted again.
        let id = started(&app, &officer, "restriction").await;
        app.post_json(
            &format!("/api/v1/requests/{id}/carry-out"),
            &officer,
            &json!({}),
        )
        .await;
        let r = app
            .client
            .get(app.url(&format!("/api/v1/records/{comment}")))
            .bearer_auth(&archivist)
            .send()
            .await
            .unwrap();
        problem(r, 404).await;
        let seen = get(&app, &officer, &format!("/api/v1/records/{comment}")).await;
        assert_eq!(seen["restricted_by"], id);
        assert_eq!(tasks(&app, &archivist, "restriction").await, 3);
        let listed = get(
            &app,
            &archivist,
            &format!("/api/v1/records?identity={anna}"),
        )
        .await;
        assert_eq!(listed["records"].as_array().unwrap().len(), 0);
        // The person it protects still gets their records, told they are restricted (Art. 15).
        let (access, access_token, _) = crate::packages::completed(
            &app,
            &officer,
            json!({"type": "access", "email": "anna+paket@example.se",
                "identities": [{"platform": "facebook", "value": "501"}]}),
        )
        .await;
        let package =
            crate::packages::files(&crate::packages::ready(&app, &access_token, access).await);
        let data: Value = serde_json::from_slice(&package["data.json"]).unwrap();
        assert!(
            data["records"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r["id"] == comment),
            "{data}"
        );
        assert_eq!(data["withheld"], json!([]), "{data}");
        let html = String::from_utf8_lossy(&package["index.html"]).to_string();
        assert!(html.contains("begränsad behandling"), "{html}");
        let r = app
            .post_json(
                &format!("/api/v1/requests/{id}/lift-restriction"),
                &officer,
                &json!({}),
            )
            .await;
        assert_eq!(r.status(), 200);
        get(&app, &archivist, &format!("/api/v1/records/{comment}")).await;
        // The person is told (Art. 18(3)); what is lifted cannot be lifted again.
        let told = crate::requests::outbox_for(&app, "anna+restriction@example.se").await;
        assert!(
            told.iter()
                .any(|s| s.starts_with("Begränsningen av behandlingen hävs")),
            "{told:?}"
        );
        let r = app
            .post_json(
                &format!("/api/v1/requests/{id}/lift-restriction"),
                &officer,
                &json!({}),
            )
            .await;
        problem(r, 409).await;
        // A restriction not yet carried out has nothing to lift.
        let open = started(&app, &officer, "restriction").await;
        let r = app
            .post_json(
                &format!("/api/v1/requests/{open}/lift-restriction"),
                &officer,
                &json!({}),
            )
            .await;
        problem(r, 409).await;

        // Access and erasure are not carried out this way.
        let id = started(&app, &officer, "access").await;
        let r = app
            .post_json(
                &format!("/api/v1/requests/{id}/carry-out"),
                &officer,
                &json!({}),
            )
            .await;
        problem(r, 409).await;
        // Every answer was mailed, with what was not done and why.
        let subjects = crate::requests::outbox_for(&app, "anna+objection@example.se").await;
        assert!(
            subjects
                .iter()
                .any(|s| s.starts_with("Ditt ärende är klart"))
        );
        assert_eq!(
            get(&app, &app.admin, "/api/v1/audit/verify").await["intact"],
            true
        );
    }
);
