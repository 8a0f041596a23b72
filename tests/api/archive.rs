use crate::both_backends;
use crate::helpers::{Backend, problem, spawn_app};

both_backends!(
    channels_are_registered_listed_and_audited,
    |b: Backend| async move {
        let app = spawn_app(b).await;
        let (_, archivist) = app.token("archivist").await;
        let (_, officer) = app.token("officer").await;
        let body = serde_json::json!({
            "platform": "facebook",
            "account_id": "1234567890321",
            "name": "Linköpings kommun",
            "department": "Kommunikationsavdelningen"
        });
        let r = app
            .client
            .post(app.url("/api/v1/channels"))
            .bearer_auth(&archivist)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        let created: serde_json::Value = r.json().await.unwrap();
        assert_eq!(created["platform"], "facebook");
        assert_eq!(created["name"], "Linköpings kommun");

        let again = app
            .client
            .post(app.url("/api/v1/channels"))
            .bearer_auth(&archivist)
            .json(&body)
            .send()
            .await
            .unwrap();
        problem(again, 409).await;
        let by_officer = app
            .client
            .post(app.url("/api/v1/channels"))
            .bearer_auth(&officer)
            .json(&body)
            .send()
            .await
            .unwrap();
        problem(by_officer, 403).await;
        let bad = app
            .client
            .post(app.url("/api/v1/channels"))
            .bearer_auth(&archivist)
            .json(&serde_json::json!({"platform": "myspace", "account_id": "1", "name": "x"}))
            .send()
            .await
            .unwrap();
        let p = problem(bad, 400).await;
        assert_eq!(p["errors"][0]["field"], "platform");
        let blank = app
            .client
            .post(app.url("/api/v1/channels"))
            .bearer_auth(&archivist)
            .json(&serde_json::json!({"platform": "instagram", "account_id": " ", "name": ""}))
            .send()
            .await
            .unwrap();
        let p = problem(blank, 400).await;
        let fields: Vec<&str> = p["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap())
            .collect();
        assert_eq!(fields, ["account_id", "name"]);

        let list: serde_json::Value = app
            .client
            .get(app.url("/api/v1/channels"))
            .bearer_auth(&officer)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(list.as_array().unwrap().len(), 1);
        let audit: serde_json::Value = app
            .client
            .get(app.url(&format!("/api/v1/audit?target=channel:{}", created["id"])))
            .bearer_auth(&app.admin)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(audit["entries"][0]["action"], "channel.create");
        assert_eq!(audit["entries"][0]["role"], "archivist");
    }
);
