use crate::both_backends;
use crate::helpers::{Backend, problem, spawn_app, spawn_app_with};

both_backends!(
    bad_bodies_get_400_naming_the_problem,
    |b: Backend| async move {
        let app = spawn_app(b).await;
        let post = |body: &'static str| {
            app.client
                .post(app.url("/api/v1/tokens"))
                .bearer_auth(&app.admin)
                .header("content-type", "application/json")
                .body(body)
                .send()
        };
        let p = problem(post("{\"name\": \"x\",").await.unwrap(), 400).await;
        assert!(
            p["detail"].as_str().unwrap().contains("not valid JSON"),
            "{p}"
        );

        let p = problem(
            post("{\"name\": \"x\", \"role\": \"boss\"}").await.unwrap(),
            400,
        )
        .await;
        assert_eq!(p["errors"][0]["field"], "role", "{p}");
        assert!(
            p["errors"][0]["reason"].as_str().unwrap().contains("boss"),
            "{p}"
        );

        let p = problem(post("{\"name\": \"x\", \"role\": 5}").await.unwrap(), 400).await;
        assert_eq!(p["errors"][0]["field"], "role", "{p}");

        let p = problem(post("{\"role\": \"admin\"}").await.unwrap(), 400).await;
        assert_eq!(p["errors"][0]["field"], "name", "{p}");
        assert_eq!(p["errors"][0]["reason"], "is required", "{p}");

        // A number or a boolean is not a string, and null is not a value the document allows.
        let p = problem(
            post("{\"name\": false, \"role\": \"auditor\"}")
                .await
                .unwrap(),
            400,
        )
        .await;
        assert_eq!(p["errors"][0]["field"], "name", "{p}");
        assert_eq!(
            p["errors"][0]["reason"], "expected a string, found boolean",
            "{p}"
        );
        let p = problem(
            post("{\"name\": 7, \"role\": \"auditor\"}").await.unwrap(),
            400,
        )
        .await;
        assert_eq!(p["errors"][0]["field"], "name", "{p}");
        let p = problem(
            post("{\"name\": null, \"role\": \"auditor\"}")
                .await
                .unwrap(),
            400,
        )
        .await;
        assert_eq!(p["errors"][0]["field"], "name", "{p}");

        let p = problem(
            post("{\"name\": \"   \", \"role\": \"admin\"}")
                .await
                .unwrap(),
            400,
        )
        .await;
        assert_eq!(p["errors"][0]["field"], "name");
        assert_eq!(p["errors"][0]["reason"], "must not be empty");

        // Nothing of a rejected request was written: only the admin token exists.
        let list: serde_json::Value = app
            .client
            .get(app.url("/api/v1/tokens"))
            .bearer_auth(&app.admin)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(list.as_array().unwrap().len(), 1);
    }
);

both_backends!(bad_parameters_and_routes_are_4xx, |b: Backend| async move {
    let app = spawn_app(b).await;
    let r = app
        .client
        .get(app.url("/api/v1/audit?limit=0"))
        .bearer_auth(&app.admin)
        .send()
        .await
        .unwrap();
    let p = problem(r, 400).await;
    assert_eq!(p["errors"][0]["field"], "limit", "{p}");
    let r = app
        .client
        .get(app.url("/api/v1/audit?since=yesterday"))
        .bearer_auth(&app.admin)
        .send()
        .await
        .unwrap();
    let p = problem(r, 400).await;
    assert_eq!(p["errors"][0]["field"], "since", "{p}");
    let r = app
        .client
        .post(app.url("/api/v1/tokens/abc/revoke"))
        .bearer_auth(&app.admin)
        .send()
        .await
        .unwrap();
    problem(r, 400).await;
    let r = app
        .client
        .get(app.url("/api/v1/nothing-here"))
        .send()
        .await
        .unwrap();
    problem(r, 404).await;
});

both_backends!(oversized_bodies_get_413, |b: Backend| async move {
    let app = spawn_app_with(b, |s| s.max_body_bytes = 1024).await;
    let big = format!(
        "{{\"name\": \"{}\", \"role\": \"admin\"}}",
        "x".repeat(4096)
    );
    let r = app
        .client
        .post(app.url("/api/v1/tokens"))
        .bearer_auth(&app.admin)
        .header("content-type", "application/json")
        .body(big.clone())
        .send()
        .await
        .unwrap();
    let p = problem(r, 413).await;
    assert!(p["detail"].as_str().unwrap().contains("1024"));
    // A chunked body declares no length and is held to the same limit.
    let stream = futures_stream(big.into_bytes());
    let r = app
        .client
        .post(app.url("/api/v1/tokens"))
        .bearer_auth(&app.admin)
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .unwrap();
    problem(r, 413).await;
});

fn futures_stream(
    bytes: Vec<u8>,
) -> impl futures_core::Stream<Item = Result<Vec<u8>, std::io::Error>> + Send + 'static {
    struct Once(Option<Vec<u8>>);
    impl futures_core::Stream for Once {
        type Item = Result<Vec<u8>, std::io::Error>;
        fn poll_next(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Self::Item>> {
            std::task::Poll::Ready(self.0.take().map(Ok))
        }
    }
    Once(Some(bytes))
}

both_backends!(
    probes_answer_and_requests_get_an_id,
    |b: Backend| async move {
        let app = spawn_app(b).await;
        let r = app.client.get(app.url("/healthz")).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert!(r.headers().contains_key("x-request-id"));
        let r = app
            .client
            .get(app.url("/readyz"))
            .header("x-request-id", "abc-123")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["x-request-id"], "abc-123");
        let r = app
            .client
            .get(app.url("/openapi.json"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let r = app.client.get(app.url("/docs")).send().await.unwrap();
        assert_eq!(r.status(), 200);
    }
);

both_backends!(
    metrics_count_requests_by_route_template,
    |b: Backend| async move {
        let app = spawn_app(b).await;
        for _ in 0..3 {
            app.client
                .get(app.url("/api/v1/tokens"))
                .bearer_auth(&app.admin)
                .send()
                .await
                .unwrap();
        }
        app.client
            .post(app.url("/api/v1/tokens/12345/revoke"))
            .bearer_auth(&app.admin)
            .send()
            .await
            .unwrap();
        app.client
            .get(app.url("/api/v1/audit"))
            .send()
            .await
            .unwrap();
        // Made-up methods all count as one label, however many there are.
        for m in ["FOO1", "FOO2", "BREW"] {
            app.client
                .request(
                    reqwest::Method::from_bytes(m.as_bytes()).unwrap(),
                    app.url("/"),
                )
                .send()
                .await
                .unwrap();
        }
        let r = app.client.get(app.url("/metrics")).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let text = r.text().await.unwrap();
        assert!(!text.contains("FOO1") && !text.contains("BREW"), "{text}");
        assert!(text.contains("method=\"other\""), "{text}");
        assert!(
            text.contains(
                "insyn_http_requests_total{route=\"list_tokens\",method=\"GET\",status=\"200\"} 3"
            ),
            "{text}"
        );
        assert!(
            text.contains("route=\"revoke_token\",method=\"POST\",status=\"404\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("route=\"list_audit\",method=\"GET\",status=\"401\"} 1"),
            "{text}"
        );
        assert!(
            text.contains(
                "insyn_http_request_duration_seconds_count{route=\"list_tokens\",method=\"GET\"} 3"
            ),
            "{text}"
        );
        assert!(!text.contains("12345"), "paths must not become labels");
    }
);

both_backends!(
    text_with_a_nul_character_is_400_naming_the_field,
    |b: Backend| async move {
        // PostgreSQL cannot store U+0000 in text; SQLite can. Both answer the same.
        let app = spawn_app(b).await;
        let r = app
            .client
            .post(app.url("/api/v1/requests"))
            .json(
                &serde_json::json!({"type": "access", "email": "a@example.se",
                "message": "a\u{0}b", "identities": [{"platform": "facebook", "value": "1"}]}),
            )
            .send()
            .await
            .unwrap();
        let p = problem(r, 400).await;
        assert_eq!(p["errors"][0]["field"], "message", "{p}");
        let r = app
            .client
            .post(app.url("/api/v1/requests"))
            .json(
                &serde_json::json!({"type": "access", "email": "a@example.se",
                "identities": [{"platform": "facebook", "value": "1\u{0}"}]}),
            )
            .send()
            .await
            .unwrap();
        let p = problem(r, 400).await;
        assert_eq!(p["errors"][0]["field"], "identities/0/value", "{p}");

        let (_, officer) = app.token("officer").await;
        let r = app
            .client
            .get(app.url("/api/v1/identities?q=a%00b"))
            .bearer_auth(&officer)
            .send()
            .await
            .unwrap();
        let p = problem(r, 400).await;
        assert_eq!(p["errors"][0]["field"], "q", "{p}");

        let (_, archivist) = app.token("archivist").await;
        let ch = crate::archive::channel(&app, &archivist, "facebook", "555").await;
        let payload = serde_json::json!({"id": "555_1", "message": "x\u{0}y",
            "from": {"id": "9", "name": "N"}, "created_time": "2026-11-01T10:00:00+0000"});
        let p = problem(
            crate::archive::import(&app, &archivist, ch, &payload).await,
            400,
        )
        .await;
        assert_eq!(p["errors"][0]["field"], "/message", "{p}");

        // A page's form as well.
        let r = app
            .client
            .post(app.url("/requests"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("type=access&email=a%40example.se&platform0=facebook&account0=1%002&platform1=&account1=&message=")
            .send()
            .await
            .unwrap();
        let p = problem(r, 400).await;
        assert_eq!(p["errors"][0]["field"], "account0", "{p}");
        // Nothing was taken in.
        let queue: serde_json::Value = app
            .client
            .get(app.url("/api/v1/queue"))
            .bearer_auth(&officer)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(queue["requests"], serde_json::json!([]), "{queue}");
    }
);
