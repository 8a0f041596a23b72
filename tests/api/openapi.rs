/// The committed document must be what the code generates; regenerate with
/// `cargo run -- openapi > openapi/openapi.json`.
#[test]
fn committed_openapi_matches_the_code() {
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json"))
            .expect("openapi/openapi.json is committed");
    let generated = insyn::app::openapi_json();
    assert!(
        committed == generated,
        "openapi/openapi.json is stale: run `cargo run -- openapi > openapi/openapi.json`"
    );
}

#[test]
fn every_operation_has_a_summary_an_id_and_its_errors() {
    let doc: serde_json::Value = serde_json::from_str(&insyn::app::openapi_json()).unwrap();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            assert!(op["summary"].is_string(), "{method} {path} has no summary");
            assert!(
                op["operationId"].is_string(),
                "{method} {path} has no operationId"
            );
            if op.get("security").is_some() {
                let responses = op["responses"].as_object().unwrap();
                for code in ["400", "401", "403", "500"] {
                    assert!(
                        responses.contains_key(code),
                        "{method} {path} does not document {code}"
                    );
                }
                let desc = op["description"].as_str().unwrap_or_default();
                assert!(
                    desc.contains("Roles:"),
                    "{method} {path} does not name its roles"
                );
            }
        }
    }
}

#[test]
fn every_request_body_has_an_example() {
    let doc: serde_json::Value = serde_json::from_str(&insyn::app::openapi_json()).unwrap();
    let schemas = &doc["components"]["schemas"];
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let Some(content) = op
                .pointer("/requestBody/content")
                .and_then(|c| c.as_object())
            else {
                continue;
            };
            for (ct, c) in content {
                let named = c["schema"]["$ref"]
                    .as_str()
                    .and_then(|r| r.rsplit('/').next())
                    .map(|n| &schemas[n]);
                let has =
                    c.get("example").is_some() || named.is_some_and(|s| s.get("example").is_some());
                assert!(has, "{method} {path} ({ct}) has no example");
            }
        }
    }
}
