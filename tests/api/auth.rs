use crate::both_backends;
use crate::helpers::{Backend, problem, spawn_app};

both_backends!(
    anonymous_and_wrong_tokens_get_401,
    |b: Backend| async move {
        let app = spawn_app(b).await;
        let anon = app
            .client
            .get(app.url("/api/v1/audit"))
            .send()
            .await
            .unwrap();
        problem(anon, 401).await;
        let wrong = app
            .client
            .get(app.url("/api/v1/audit"))
            .bearer_auth("insyn_nope")
            .send()
            .await
            .unwrap();
        let body = problem(wrong, 401).await;
        assert!(
            !body["detail"].as_str().unwrap().contains("insyn_nope"),
            "the token must not be echoed"
        );
    }
);

both_backends!(each_role_is_admitted_or_refused, |b: Backend| async move {
    let app = spawn_app(b).await;
    // (role, may read the audit log, may create tokens)
    let matrix = [
        ("admin", true, true),
        ("officer", false, false),
        ("archivist", false, false),
        ("auditor", true, false),
        ("integration", false, false),
    ];
    for (role, audit, tokens) in matrix {
        let (_, secret) = app.token(role).await;
        let r = app
            .client
            .get(app.url("/api/v1/audit"))
            .bearer_auth(&secret)
            .send()
            .await
            .unwrap();
        if audit {
            assert_eq!(r.status(), 200, "{role} on GET /audit");
        } else {
            problem(r, 403).await;
        }
        let r = app
            .post_json(
                "/api/v1/tokens",
                &secret,
                &serde_json::json!({"name": "x", "role": "admin"}),
            )
            .await;
        if tokens {
            assert_eq!(r.status(), 201, "{role} on POST /tokens");
        } else {
            problem(r, 403).await;
        }
    }
});

both_backends!(a_revoked_token_gets_401, |b: Backend| async move {
    let app = spawn_app(b).await;
    let (id, secret) = app.token("auditor").await;
    let ok = app
        .client
        .get(app.url("/api/v1/audit/verify"))
        .bearer_auth(&secret)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let r = app
        .client
        .post(app.url(&format!("/api/v1/tokens/{id}/revoke")))
        .bearer_auth(&app.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(body["revoked_at"].is_string());
    let after = app
        .client
        .get(app.url("/api/v1/audit/verify"))
        .bearer_auth(&secret)
        .send()
        .await
        .unwrap();
    problem(after, 401).await;
    let missing = app
        .client
        .post(app.url("/api/v1/tokens/999999/revoke"))
        .bearer_auth(&app.admin)
        .send()
        .await
        .unwrap();
    problem(missing, 404).await;
});

both_backends!(
    tokens_are_stored_hashed_and_never_listed,
    |b: Backend| async move {
        let app = spawn_app(b).await;
        let (_, secret) = app.token("officer").await;
        let list = app
            .client
            .get(app.url("/api/v1/tokens"))
            .bearer_auth(&app.admin)
            .send()
            .await
            .unwrap();
        assert_eq!(list.status(), 200);
        let text = list.text().await.unwrap();
        assert!(!text.contains(&secret) && !text.contains(&app.admin));
        let rows = entities::api_token::Entity::find()
            .all(&app.db)
            .await
            .unwrap();
        assert_eq!(rows.len(), 2);
        assert!(
            rows.iter()
                .all(|r| !r.token_hash.contains(&secret[6..]) && r.token_hash.len() == 64)
        );
    }
);

use sea_orm::EntityTrait;
