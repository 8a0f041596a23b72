use crate::both_backends;
use crate::helpers::{Backend, spawn_app};
use sea_orm::ConnectionTrait;

async fn verify(app: &crate::helpers::TestApp) -> serde_json::Value {
    let r = app
        .client
        .get(app.url("/api/v1/audit/verify"))
        .bearer_auth(&app.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

both_backends!(
    every_write_is_audited_and_filterable,
    |b: Backend| async move {
        let app = spawn_app(b).await;
        let (id, _) = app.token("officer").await;
        app.client
            .post(app.url(&format!("/api/v1/tokens/{id}/revoke")))
            .bearer_auth(&app.admin)
            .send()
            .await
            .unwrap();
        let r = app
            .client
            .get(app.url(&format!("/api/v1/audit?target=token:{id}")))
            .bearer_auth(&app.admin)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let page: serde_json::Value = r.json().await.unwrap();
        let actions: Vec<&str> = page["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["action"].as_str().unwrap())
            .collect();
        assert_eq!(actions, ["token.create", "token.revoke"]);
        let first = &page["entries"][0];
        assert_eq!(first["role"], "admin");
        assert!(first["actor"].as_str().unwrap().starts_with("token:"));
        assert_eq!(first["details"]["role"], "officer");
        // The chain links each entry to the one before.
        assert_eq!(page["entries"][1]["prev_hash"], first["hash"]);

        let future = app
            .client
            .get(app.url("/api/v1/audit?since=2999-01-01T00:00:00Z"))
            .bearer_auth(&app.admin)
            .send()
            .await
            .unwrap();
        let page: serde_json::Value = future.json().await.unwrap();
        assert_eq!(page["entries"].as_array().unwrap().len(), 0);
    }
);

both_backends!(verify_finds_an_edited_row, |b: Backend| async move {
    let app = spawn_app(b).await;
    for role in ["officer", "auditor", "archivist"] {
        app.token(role).await;
    }
    let v = verify(&app).await;
    assert_eq!(v["intact"], true, "{v}");
    assert_eq!(v["checked"], 4); // the admin token from the CLI path, then three over HTTP

    // Someone with database access promotes an auditor to admin in the log.
    app.db
        .execute_unprepared("UPDATE audit_log SET details = '{\"role\":\"admin\"}' WHERE id = 3")
        .await
        .unwrap();
    let v = verify(&app).await;
    assert_eq!(v["intact"], false);
    assert_eq!(v["first_broken_id"], 3);
    assert!(v["reason"].as_str().unwrap().contains("edited"));
});

both_backends!(verify_finds_a_deleted_row, |b: Backend| async move {
    let app = spawn_app(b).await;
    for role in ["officer", "auditor"] {
        app.token(role).await;
    }
    app.db
        .execute_unprepared("DELETE FROM audit_log WHERE id = 2")
        .await
        .unwrap();
    let v = verify(&app).await;
    assert_eq!(v["intact"], false);
    assert_eq!(v["first_broken_id"], 3);
    assert!(v["reason"].as_str().unwrap().contains("removed"));
});

both_backends!(concurrent_writers_keep_one_chain, |b: Backend| async move {
    let app = spawn_app(b).await;
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let client = app.client.clone();
        let url = app.url("/api/v1/tokens");
        let admin = app.admin.clone();
        tasks.push(tokio::spawn(async move {
            client
                .post(url)
                .bearer_auth(admin)
                .json(&serde_json::json!({"name": "parallel", "role": "integration"}))
                .send()
                .await
                .unwrap()
                .status()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 201);
    }
    let v = verify(&app).await;
    assert_eq!(v["intact"], true, "{v}");
    assert_eq!(v["checked"], 17);
});

async fn verify_from(app: &crate::helpers::TestApp, anchor: &str) -> reqwest::Response {
    app.client
        .get(app.url(&format!("/api/v1/audit/verify?anchor={anchor}")))
        .bearer_auth(&app.admin)
        .send()
        .await
        .unwrap()
}

both_backends!(
    an_anchor_kept_from_an_earlier_verification_finds_a_cut_or_rewritten_chain,
    |b: Backend| async move {
        let app = spawn_app(b).await;
        for _ in 0..3 {
            app.token("officer").await;
        }
        let v = verify(&app).await;
        assert_eq!(v["intact"], true);
        let head = v["head"].as_str().unwrap().to_owned();
        let (head_id, _) = head.split_once(':').unwrap();
        let head_id: i64 = head_id.parse().unwrap();
        let r = verify_from(&app, &head).await;
        assert_eq!(r.json::<serde_json::Value>().await.unwrap()["intact"], true);
        // An anchor that is not ID:HASH is named.
        let r = verify_from(&app, "7:abc").await;
        assert_eq!(
            crate::helpers::problem(r, 400).await["errors"][0]["field"],
            "anchor"
        );

        // The newest entry deleted: the rest still links up, but not to the anchor.
        app.db
            .execute_unprepared(&format!("DELETE FROM audit_log WHERE id = {head_id}"))
            .await
            .unwrap();
        assert_eq!(verify(&app).await["intact"], true);
        let v: serde_json::Value = verify_from(&app, &head).await.json().await.unwrap();
        assert_eq!(v["intact"], false, "{v}");
        assert_eq!(v["first_broken_id"], head_id);
        assert!(v["reason"].as_str().unwrap().contains("anchor"));

        // A chain edited and hashed again links up by itself, but the anchor's hash changed.
        let v = verify(&app).await;
        let head = v["head"].as_str().unwrap().to_owned();
        app.db
            .execute_unprepared("UPDATE audit_log SET details = '{}' WHERE id = 1")
            .await
            .unwrap();
        use sea_orm::{ActiveModelTrait, EntityTrait, QueryOrder, Set};
        let mut prev = insyn::audit::rules::GENESIS.to_owned();
        for row in entities::audit_log::Entity::find()
            .order_by_asc(entities::audit_log::Column::Id)
            .all(&app.db)
            .await
            .unwrap()
        {
            let hash = insyn::audit::rules::entry_hash(
                &prev,
                &insyn::audit::rules::EntryFields {
                    at: row.at,
                    actor: &row.actor,
                    role: &row.role,
                    action: &row.action,
                    target: &row.target,
                    details: &row.details,
                },
            );
            let mut a: entities::audit_log::ActiveModel = row.into();
            a.prev_hash = Set(prev.clone());
            a.hash = Set(hash.clone());
            a.update(&app.db).await.unwrap();
            prev = hash;
        }
        assert_eq!(verify(&app).await["intact"], true);
        let v: serde_json::Value = verify_from(&app, &head).await.json().await.unwrap();
        assert_eq!(v["intact"], false, "{v}");
    }
);
