//! Access and export packages: built by the job after completion, downloaded with the token.
use crate::archive::{channel, get, import};
use crate::both_backends;
use crate::consent::{PAGE, thread};
use crate::helpers::{Backend, TestApp, problem, spawn_app_with};
use sea_orm::{ActiveModelTrait, EntityTrait, Set};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::time::Duration;

pub(crate) async fn download(app: &TestApp, token: &str, id: i64) -> reqwest::Response {
    app.client
        .get(app.url(&format!("/api/v1/requests/{id}/package")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

/// Waits for the build job, then downloads.
pub(crate) async fn ready(app: &TestApp, token: &str, id: i64) -> Vec<u8> {
    for _ in 0..100 {
        let r = download(app, token, id).await;
        if r.status() == 200 {
            let sha = r.headers()["x-package-sha256"].to_str().unwrap().to_owned();
            let bytes = r.bytes().await.unwrap().to_vec();
            assert_eq!(hex::encode(Sha256::digest(&bytes)), sha);
            return bytes;
        }
        assert_eq!(r.status(), 409, "while it is built");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the package was never built");
}

/// Submits the request `body`, and has an officer verify every account it names and take it on.
/// Answers the request's id and status token: the one mailed once the officer verified the
/// person, the one given at submission having stopped working.
pub(crate) async fn started(app: &TestApp, officer: &str, body: Value) -> (i64, String) {
    let s: Value = app
        .client
        .post(app.url("/api/v1/requests"))
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = s["id"].as_i64().unwrap();
    for (path, body) in [
        ("verify-identity", json!({"method": "e_id"})),
        ("assign", json!({"assignee": "dpo"})),
    ] {
        let r = app
            .post_json(&format!("/api/v1/requests/{id}/{path}"), officer, &body)
            .await;
        assert_eq!(r.status(), 200, "{path}");
    }
    let given = s["status_token"].as_str().unwrap();
    let r = app
        .client
        .get(app.url(&format!("/api/v1/requests/{id}")))
        .bearer_auth(given)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "the token given at submission is replaced");
    let email = body["email"].as_str().unwrap();
    (id, crate::requests::mailed_status_token(app, email).await)
}

/// The officer completes request `id` with a summary: the package job starts.
async fn complete(app: &TestApp, officer: &str, id: i64) {
    let r = app
        .post_json(
            &format!("/api/v1/requests/{id}/complete"),
            officer,
            &json!({"summary": "Here is what we hold."}),
        )
        .await;
    assert_eq!(r.status(), 200, "complete");
}

/// Submits the request `body`, has an officer verify, start and complete it: the package job
/// starts. Answers the request's id, status token and reference.
pub(crate) async fn completed(app: &TestApp, officer: &str, body: Value) -> (i64, String, Value) {
    let (id, token) = started(app, officer, body).await;
    complete(app, officer, id).await;
    let reference = get(app, officer, &format!("/api/v1/requests/{id}")).await["reference"].clone();
    (id, token, reference)
}

/// Moderates the record of channel `ch` with `platform_id` under `rule` through the API.
async fn moderate(
    app: &TestApp,
    token: &str,
    ch: i64,
    platform_id: &str,
    rule: &str,
    action: &str,
) -> reqwest::Response {
    let page = crate::archive::get(
        app,
        token,
        &format!("/api/v1/records?channel={ch}&limit=1000"),
    )
    .await;
    let id = page["records"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["platform_id"] == platform_id)
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    app.post_json(
        &format!("/api/v1/records/{id}/moderation"),
        token,
        &json!({"rule": rule, "action": action}),
    )
    .await
}

/// Fails unless `data` is valid under the JSON Schema each package ships as `data.schema.json`.
/// An app that keeps its packages in a directory of the test's own (kept while the first value
/// lives), with an archivist, an officer and a Facebook channel of the Page `page`.
async fn package_app(b: Backend, page: &str) -> (tempfile::TempDir, TestApp, String, String, i64) {
    let store = tempfile::tempdir().unwrap();
    let dir = store.path().to_string_lossy().into_owned();
    let app = spawn_app_with(b, move |s| {
        s.data_dir = dir;
        // The suppression key cannot be kept there either: it is given.
        s.secret_key = Some("k".repeat(32));
    })
    .await;
    let (_, archivist) = app.token("archivist").await;
    let (_, officer) = app.token("officer").await;
    let ch = channel(&app, &archivist, "facebook", page).await;
    (store, app, archivist, officer, ch)
}

fn instant(v: &Value) -> chrono::DateTime<chrono::Utc> {
    v.as_str().unwrap().parse().unwrap()
}

pub(crate) fn valid_under_schema(data: &Value) {
    let errors = schema_errors(data);
    assert!(errors.is_empty(), "data.json breaks its schema: {errors:?}");
}

fn schema_errors(data: &Value) -> Vec<String> {
    let schema: Value =
        serde_json::from_str(include_str!("../../openapi/package-data.schema.json")).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    validator
        .iter_errors(data)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

pub(crate) fn files(zip: &[u8]) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip)).unwrap();
    let mut out = std::collections::BTreeMap::new();
    for i in 0..archive.len() {
        let mut f = archive.by_index(i).unwrap();
        let mut buf = vec![];
        f.read_to_end(&mut buf).unwrap();
        out.insert(f.name().unwrap().into_owned(), buf);
    }
    out
}

both_backends!(
    an_access_package_holds_the_persons_records_and_nobody_elses,
    |b: Backend| async move {
        let (store, app, archivist, officer, ch) = package_app(b, PAGE).await;
        assert_eq!(import(&app, &archivist, ch, &thread()).await.status(), 200);
        // Anna's own reply to Bo is classified: withheld, and counted.
        let own_reply = json!({"id": "1_40", "from": {"id": "501", "name": "Anna Andersson"},
            "message": "<script>alert(1)</script> Hemligt", "created_time": "2024-03-02T10:00:00+0000",
            "parent": {"id": "1_12"}});
        assert_eq!(import(&app, &archivist, ch, &own_reply).await.status(), 200);
        let r = moderate(
            &app,
            &archivist,
            ch,
            "1_40",
            "classified_information",
            "hide",
        )
        .await;
        assert_eq!(r.status(), 201);
        let other = json!({"id": "1_41", "from": {"id": "501", "name": "Anna Andersson"},
            "message": "Tack <b>allihop</b>, \"särskilt\" Bo", "created_time": "2024-03-02T11:00:00+0000",
            "parent": {"id": "1_12"}});
        assert_eq!(import(&app, &archivist, ch, &other).await.status(), 200);
        // Her reply breaks a rule and she is blocked for it: the block is hers to see.
        let r = moderate(&app, &archivist, ch, "1_41", "profanity", "block_author").await;
        assert_eq!(r.status(), 201);
        let block_number = r.json::<Value>().await.unwrap()["moderation"]["registration_number"]
            .as_str()
            .unwrap()
            .to_owned();

        let (id, token, reference) = completed(&app, &officer, json!({"type": "access", "email": "anna@example.se", "identities": [{"platform": "facebook", "value": "501"}]})).await;
        let zip = ready(&app, &token, id).await;
        let f = files(&zip);
        let names: Vec<&str> = f.keys().map(String::as_str).collect();
        assert_eq!(
            names,
            [
                "consents.csv",
                "data.json",
                "data.schema.json",
                "index.html",
                "manifest.json",
                "records.csv"
            ]
        );
        // The manifest's hashes are the files'.
        let manifest: Value = serde_json::from_slice(&f["manifest.json"]).unwrap();
        assert_eq!(manifest["reference"], reference);
        for entry in manifest["files"].as_array().unwrap() {
            let name = entry["name"].as_str().unwrap();
            assert_eq!(
                entry["sha256"],
                hex::encode(Sha256::digest(&f[name])),
                "{name}"
            );
            assert_eq!(entry["size"], f[name].len());
        }
        let data: Value = serde_json::from_slice(&f["data.json"]).unwrap();
        valid_under_schema(&data);
        // The schema names every field: one it does not know is an error, not a silent extra.
        let mut extra = data.clone();
        extra["records"][0]["undocumented"] = Value::Bool(true);
        assert_eq!(
            schema_errors(&extra).len(),
            1,
            "{:?}",
            schema_errors(&extra)
        );
        let records = data["records"].as_array().unwrap();
        let ids: Vec<&str> = records
            .iter()
            .map(|r| r["platform_id"].as_str().unwrap())
            .collect();
        // Her comment, her two reactions, her reply to Bo; not the classified one, not Bo's.
        assert_eq!(records.len(), 4, "{ids:?}");
        assert!(!ids.contains(&"1_40") && !ids.contains(&"1_12"));
        assert_eq!(data["withheld"][0]["count"], 1);
        let comment = records.iter().find(|r| r["platform_id"] == "1_10").unwrap();
        assert_eq!(
            comment["in_reply_to"], "Nu öppnar badet",
            "the municipality's post is kept"
        );
        assert_eq!(comment["versions"][0]["change"], "created");
        // Every record's versions are the archive's, whether it changed (the moderated reply has
        // two) or not (the package takes an unchanged record's one version from its row).
        let mut changed = 0;
        for r in records {
            let detail = get(&app, &archivist, &format!("/api/v1/records/{}", r["id"])).await;
            let archived: Vec<Value> = detail["versions"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| {
                    json!({"seq": v["seq"], "change": v["change"], "seen_at": v["seen_at"],
                        "hash": v["hash"], "text": v["content"]["text"],
                        "visibility": v["content"]["visibility"]})
                })
                .collect();
            let shown: Vec<Value> = r["versions"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| {
                    json!({"seq": v["seq"], "change": v["change"],
                        "seen_at": v["seen_at"],
                        "hash": v["hash"], "text": v["text"], "visibility": v["visibility"]})
                })
                .collect();
            assert_eq!(shown.len(), archived.len(), "{}", r["platform_id"]);
            for (s, a) in shown.iter().zip(&archived) {
                assert_eq!(s["seq"], a["seq"]);
                assert_eq!(s["change"], a["change"]);
                assert_eq!(s["hash"], a["hash"]);
                assert_eq!(instant(&s["seen_at"]), instant(&a["seen_at"]));
                assert_eq!(s["text"], a["text"], "{}", r["platform_id"]);
                assert_eq!(s["visibility"], a["visibility"]);
            }
            changed += usize::from(archived.len() > 1);
        }
        assert!(changed > 0, "a changed record is among them");
        let reply = records.iter().find(|r| r["platform_id"] == "1_41").unwrap();
        assert_eq!(
            reply["in_reply_to"],
            "[borttaget: en annan persons uppgifter]"
        );
        let text = String::from_utf8(f["data.json"].clone()).unwrap();
        assert!(
            !text.contains("Håller med") && !text.contains("Bo Berg"),
            "no third party"
        );
        assert!(
            data["consents"]
                .as_array()
                .unwrap()
                .iter()
                .all(|c| c["legal_basis"] == "consent")
        );
        assert!(
            data["purposes"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["legal_basis"] == "legal_obligation")
        );
        let csv = String::from_utf8(f["records.csv"].clone()).unwrap();
        assert!(csv.starts_with('\u{feff}'), "a BOM for Excel");
        assert!(csv.contains("\"Tack <b>allihop</b>, \"\"särskilt\"\" Bo\""));
        let html = String::from_utf8(f["index.html"].clone()).unwrap();
        assert!(html.contains("<html lang=\"sv\">"));
        assert!(html.contains("Tack &lt;b&gt;allihop&lt;/b&gt;"));
        assert!(!html.contains("<script>") && !html.contains("src=\"http"));
        assert!(html.contains("Integritetsskyddsmyndigheten"));
        // The report speaks the request's language: what each record is, its state, how long it
        // is kept, its moderation and its versions, in words rather than codes or JSON.
        assert!(html.contains("<h3>Kommentar · facebook:"), "{html}");
        assert!(html.contains("Syns på plattformen"));
        assert!(html.contains("<p class=\"ctx\">Svar på: Nu öppnar badet</p>"));
        assert!(html.contains("Bevaras: inget gallringsbeslut omfattar posten"));
        // The moderated record is registered: kept until the registry disposes of it.
        assert!(html.contains("Bevaras: registrerad handling, som gallras bara genom registret"));
        assert!(html.contains(&format!(
            "Moderering: profanity / block_author · diarienummer {block_number}"
        )));
        assert!(html.contains("<li>Arkiverad ") && html.contains("<li>Modererad "));
        assert!(!html.contains("{&quot;") && !html.contains(">created<"));
        let blocks = data["blocks"].as_array().unwrap();
        assert_eq!(blocks.len(), 1, "{blocks:?}");
        assert_eq!(blocks[0]["rule"], "profanity");
        assert_eq!(blocks[0]["registration_number"], block_number.as_str());
        assert!(
            blocks[0]["channel"]
                .as_str()
                .unwrap()
                .starts_with("facebook:")
        );
        assert!(html.contains("<h2>Blockeringar</h2>") && html.contains(&block_number));

        // Another request's token learns nothing; downloads are counted and audited.
        let bo: Value = app
            .client
            .post(app.url("/api/v1/requests"))
            .json(&json!({"type": "access", "email": "bo@example.se", "identities": [{"platform": "facebook", "value": "502"}]}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        problem(
            download(&app, bo["status_token"].as_str().unwrap(), id).await,
            404,
        )
        .await;
        // Bo's own request has no package: 404 for it too.
        let bo_id = bo["id"].as_i64().unwrap();
        problem(
            download(&app, bo["status_token"].as_str().unwrap(), bo_id).await,
            404,
        )
        .await;
        let audit =
            crate::archive::get(&app, &app.admin, "/api/v1/audit?action=package.download").await;
        assert!(!audit["entries"].as_array().unwrap().is_empty());

        // The link expires, and the purge removes the file.
        let p = entities::package::Entity::find()
            .one(&app.db)
            .await
            .unwrap()
            .unwrap();
        let file = store
            .path()
            .join("packages")
            .join(p.file_name.clone().unwrap());
        assert!(file.exists());
        let mut a: entities::package::ActiveModel = p.into();
        a.expires_at = Set(Some(insyn::audit::now() - chrono::Duration::minutes(1)));
        a.update(&app.db).await.unwrap();
        problem(download(&app, &token, id).await, 410).await;
        let storage = insyn::packages::Storage {
            dir: store.path().join("packages"),
            days: 30,
            public_url: String::new(),
            time_zone: chrono_tz::Europe::Stockholm,
        };
        assert_eq!(
            insyn::packages::store::purge(&app.db, &storage)
                .await
                .unwrap(),
            1
        );
        assert!(!file.exists());
        let mail = crate::requests::outbox_for(&app, "anna@example.se").await;
        assert!(
            mail.iter()
                .any(|m| m.starts_with("Dina uppgifter finns att hämta"))
        );
    }
);

both_backends!(
    an_account_named_before_its_records_were_imported_is_answered_for,
    |b: Backend| async move {
        let (_store, app, archivist, officer, ch) = package_app(b, PAGE).await;
        // The request comes first: the account matches nothing in the archive yet.
        let (id, _) = started(
            &app,
            &officer,
            json!({"type": "export", "email": "cecilia@example.se", "language": "en",
                "identities": [{"platform": "facebook", "value": "503"}]}),
        )
        .await;
        assert_eq!(import(&app, &archivist, ch, &thread()).await.status(), 200);
        complete(&app, &officer, id).await;
        let f = files(&ready(&app, &officer, id).await);
        let data: Value = serde_json::from_slice(&f["data.json"]).unwrap();
        assert_eq!(data["records"][0]["reaction_type"], "love", "{data}");
    }
);

both_backends!(
    an_export_package_is_data_json_with_its_schema,
    |b: Backend| async move {
        let (_store, app, archivist, officer, ch) = package_app(b, PAGE).await;
        assert_eq!(import(&app, &archivist, ch, &thread()).await.status(), 200);
        let (id, token, _) = completed(
            &app,
            &officer,
            json!({"type": "export", "email": "cecilia@example.se", "language": "en",
                "identities": [{"platform": "facebook", "value": "503"}]}),
        )
        .await;
        let f = files(&ready(&app, &officer, id).await);
        let names: Vec<&str> = f.keys().map(String::as_str).collect();
        assert_eq!(names, ["data.json", "data.schema.json", "manifest.json"]);
        let data: Value = serde_json::from_slice(&f["data.json"]).unwrap();
        valid_under_schema(&data);
        assert_eq!(data["kind"], "export");
        assert_eq!(data["records"][0]["kind"], "reaction");
        assert_eq!(data["records"][0]["reaction_type"], "love");
        assert!(
            data["records"][0].get("versions").is_none(),
            "an export is what the person provided"
        );
        let _ = token;
    }
);

both_backends!(
    a_real_commenter_who_messaged_the_page_gets_both_and_nobody_else,
    |b: Backend| async move {
        // The Page of the python-facebook fixtures ("MyLife").
        let (_store, app, archivist, officer, ch) = package_app(b, "2121008874780932").await;
        // The rest of the real fixtures too, so that other people are in the archive.
        let base = format!(
            "{}/../shared/fixtures/meta-graph",
            env!("CARGO_MANIFEST_DIR")
        );
        let mut others: Vec<String> = vec![];
        let entries = std::fs::read_dir(format!("{base}/python-facebook"))
            .unwrap()
            .chain(std::fs::read_dir(format!("{base}/restfb")).unwrap());
        for entry in entries {
            let path = entry.unwrap().path();
            // NOTICE.md and the like are not payloads.
            let Ok(body) = serde_json::from_str::<Value>(&std::fs::read_to_string(&path).unwrap())
            else {
                continue;
            };
            collect_people(&body, &mut others);
            import(&app, &archivist, ch, &body).await;
        }
        others.retain(|p| {
            !["2711636948859886", "Kun Liu", "2121008874780932", "MyLife"].contains(&p.as_str())
        });
        others.sort();
        others.dedup();
        assert!(!others.is_empty(), "the fixtures name other people");

        let (id, token, _) = completed(
            &app,
            &officer,
            json!({"type": "access", "email": "kun@example.se", "language": "en",
                "identities": [{"platform": "facebook", "value": "2711636948859886"}]}),
        )
        .await;
        let f = files(&ready(&app, &token, id).await);
        let data: Value = serde_json::from_slice(&f["data.json"]).unwrap();
        valid_under_schema(&data);
        let kinds: Vec<&str> = data["records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["kind"].as_str().unwrap())
            .collect();
        assert!(
            kinds.contains(&"comment") && kinds.contains(&"message"),
            "{kinds:?}"
        );
        let texts: Vec<&str> = data["records"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|r| r["text"].as_str())
            .collect();
        assert!(texts.iter().any(|t| t.contains("My Nice Car")), "{texts:?}");
        // The report is in English, as the request asked.
        let html = String::from_utf8_lossy(&f["index.html"]);
        assert!(
            html.contains("<h3>Comment · facebook:") && html.contains("<h3>Message · "),
            "{html}"
        );
        assert!(html.contains("Kept: no disposal decision covers it"));
        assert!(html.contains("<li>Archived "));
        for name in ["data.json", "index.html", "records.csv", "consents.csv"] {
            let text = String::from_utf8_lossy(&f[name]);
            for other in &others {
                assert!(!text.contains(other.as_str()), "{name} names {other}");
            }
        }
    }
);

/// Every `from`/`sender` name and id in a payload.
fn collect_people(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(o) => {
            for key in ["from", "sender"] {
                if let Some(Value::Object(p)) = o.get(key) {
                    for field in ["id", "name", "username"] {
                        if let Some(x) = p.get(field) {
                            let s = x
                                .as_str()
                                .map(str::to_owned)
                                .unwrap_or_else(|| x.to_string());
                            if s.len() > 3 {
                                out.push(s);
                            }
                        }
                    }
                }
            }
            o.values().for_each(|x| collect_people(x, out));
        }
        Value::Array(a) => a.iter().for_each(|x| collect_people(x, out)),
        _ => {}
    }
}

both_backends!(
    a_package_that_cannot_be_built_says_so,
    |b: Backend| async move {
        // The data directory is a file: nothing can be written under it.
        let blocker = tempfile::NamedTempFile::new().unwrap();
        let dir = blocker.path().to_string_lossy().into_owned();
        let app = spawn_app_with(b, move |s| {
            s.data_dir = dir;
            // The suppression key cannot be kept there either: it is given.
            s.secret_key = Some("k".repeat(32));
        })
        .await;
        let (_, officer) = app.token("officer").await;
        let (id, token, _) = completed(
            &app,
            &officer,
            json!({"type": "access", "email": "dora@example.se",
                "identities": [{"platform": "facebook", "value": "777"}]}),
        )
        .await;
        let mut kind = String::new();
        for _ in 0..100 {
            let r = download(&app, &token, id).await;
            kind = problem(r, 409).await["type"].as_str().unwrap().to_owned();
            if kind.ends_with("package-failed") {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(kind, "https://insyn.example/problems/package-failed");
        let p = entities::package::Entity::find()
            .one(&app.db)
            .await
            .unwrap()
            .unwrap();
        assert!(p.error.unwrap().contains("writing the package"));

        // Its last attempt fails too: the package is failed, and says so, rather than "being
        // built" for ever.
        use sea_orm::{ColumnTrait, QueryFilter};
        let job = entities::job::Entity::find()
            .filter(entities::job::Column::Kind.eq("packages.build"))
            .one(&app.db)
            .await
            .unwrap()
            .unwrap();
        let mut a: entities::job::ActiveModel = job.into();
        a.attempts = Set(insyn::jobs::rules::MAX_ATTEMPTS - 1);
        a.run_at = Set(chrono::Utc::now());
        a.update(&app.db).await.unwrap();
        let mut detail = String::new();
        for _ in 0..100 {
            let r = download(&app, &token, id).await;
            detail = problem(r, 409).await["detail"].as_str().unwrap().to_owned();
            if detail.contains("has been told") {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(detail.contains("has been told"), "{detail}");
        let p = entities::package::Entity::find()
            .one(&app.db)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(p.status, "failed");
    }
);

both_backends!(
    a_package_of_many_pages_holds_each_record_once_in_order,
    |b: Backend| async move {
        let (_store, app, archivist, officer, ch) = package_app(b, PAGE).await;
        // 650 comments of Anna's among 325 of Bo's: several pages of hers, with his between.
        let comments: Vec<Value> = (0..975)
            .map(|n| {
                let (who, name) = if n % 3 == 2 {
                    ("502", "Bo Berg")
                } else {
                    ("501", "Anna Andersson")
                };
                json!({"id": format!("1_{n}"), "from": {"id": who, "name": name},
                    "message": format!("Kommentar {n}"), "created_time": "2024-03-01T11:00:00+0000"})
            })
            .collect();
        let post = json!({"id": format!("{PAGE}_1"), "from": {"id": PAGE, "name": "Kommunen"},
            "message": "Nu öppnar badet", "created_time": "2024-03-01T10:00:00+0000",
            "comments": {"data": comments}});
        assert_eq!(import(&app, &archivist, ch, &post).await.status(), 200);
        // One of hers far into the list is classified, one further on is moderated (a second
        // version).
        let r = moderate(
            &app,
            &archivist,
            ch,
            "1_600",
            "classified_information",
            "hide",
        )
        .await;
        assert_eq!(r.status(), 201);
        let r = moderate(&app, &archivist, ch, "1_900", "profanity", "hide").await;
        assert_eq!(r.status(), 201);

        let (id, token, _) = completed(&app, &officer, json!({"type": "access", "email": "anna@example.se", "identities": [{"platform": "facebook", "value": "501"}]})).await;
        let f = files(&ready(&app, &token, id).await);
        let data: Value = serde_json::from_slice(&f["data.json"]).unwrap();
        valid_under_schema(&data);
        let records = data["records"].as_array().unwrap();
        let ids: Vec<i64> = records.iter().map(|r| r["id"].as_i64().unwrap()).collect();
        assert_eq!(ids.len(), 649, "each of hers but the classified one");
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "in order, none twice");
        let mut texts: Vec<&str> = records
            .iter()
            .map(|r| r["text"].as_str().unwrap())
            .collect();
        texts.sort_unstable();
        let mut expected: Vec<String> = (0..975)
            .filter(|n| n % 3 != 2 && *n != 600)
            .map(|n| format!("Kommentar {n}"))
            .collect();
        expected.sort_unstable();
        assert_eq!(texts, expected);
        assert_eq!(data["withheld"][0]["count"], 1);
        let moderated = records
            .iter()
            .find(|r| r["platform_id"] == "1_900")
            .unwrap();
        assert_eq!(moderated["versions"].as_array().unwrap().len(), 2);
        assert!(
            records
                .iter()
                .filter(|r| r["platform_id"] != "1_900")
                .all(|r| r["versions"].as_array().unwrap().len() == 1)
        );
        let csv = String::from_utf8(f["records.csv"].clone()).unwrap();
        assert_eq!(csv.lines().count(), 650, "a header and a row each");
        let html = String::from_utf8(f["index.html"].clone()).unwrap();
        assert_eq!(html.matches("<section>").count(), 649);
    }
);

both_backends!(
    a_download_whose_file_is_gone_is_not_counted,
    |b: Backend| async move {
        let data = tempfile::tempdir().unwrap();
        let dir = data.path().to_string_lossy().into_owned();
        let app = spawn_app_with(b, move |s| s.data_dir = dir).await;
        let (_, officer) = app.token("officer").await;
        let (id, token, _) = completed(
            &app,
            &officer,
            json!({"type": "access", "email": "erik@example.se",
                "identities": [{"platform": "facebook", "value": "778"}]}),
        )
        .await;
        ready(&app, &token, id).await;
        let p = entities::package::Entity::find()
            .one(&app.db)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(p.downloads, 1);
        std::fs::remove_file(data.path().join("packages").join(p.file_name.unwrap())).unwrap();
        let r = download(&app, &token, id).await;
        problem(r, 500).await;
        let p = entities::package::Entity::find()
            .one(&app.db)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            p.downloads, 1,
            "a download that sent nothing is not counted"
        );
    }
);

/// A package whose build was under way when an erasure took it stays taken: what the build read
/// before the erasure does not become downloadable. PostgreSQL only: a table lock holds the build
/// at its first read while the erasure's mark is set, which SQLite's readers do not wait for.
#[tokio::test]
async fn a_package_taken_by_an_erasure_while_it_was_built_stays_taken() {
    use sea_orm::{ConnectionTrait, TransactionTrait};
    let (store, app, archivist, officer, ch) = package_app(Backend::Postgres, PAGE).await;
    assert_eq!(import(&app, &archivist, ch, &thread()).await.status(), 200);
    let (id, token) = started(
        &app,
        &officer,
        json!({"type": "access", "email": "cecilia@example.se",
            "identities": [{"platform": "facebook", "value": "503"}]}),
    )
    .await;
    let locker = sea_orm::Database::connect(&app.database_url).await.unwrap();
    let held = locker.begin().await.unwrap();
    held.execute_unprepared("LOCK TABLE identity IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    complete(&app, &officer, id).await;
    // The build job waits on the lock at its first read of the archive.
    let waiting =
        "SELECT count(*) AS n FROM pg_locks WHERE NOT granted AND relation = 'identity'::regclass";
    let mut blocked = false;
    for _ in 0..100 {
        let row = app
            .db
            .query_one_raw(sea_orm::Statement::from_string(
                sea_orm::DbBackend::Postgres,
                waiting,
            ))
            .await
            .unwrap()
            .unwrap();
        if row.try_get::<i64>("", "n").unwrap() > 0 {
            blocked = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(blocked, "the build never reached the archive");
    // Meanwhile an erasure takes the package, as `erasure.execute` does.
    let p = entities::package::Entity::find()
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    let mut a: entities::package::ActiveModel = p.clone().into();
    a.status = Set("erased".into());
    a.update(&app.db).await.unwrap();
    held.commit().await.unwrap();
    // The build finishes, finds its package taken, and leaves nothing behind.
    for _ in 0..100 {
        let job = entities::job::Entity::find()
            .all(&app.db)
            .await
            .unwrap()
            .into_iter()
            .find(|j| j.kind == "packages.build")
            .unwrap();
        if job.finished_at.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let after = entities::package::Entity::find_by_id(p.id)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after.status, "erased");
    assert_eq!(after.file_name, None);
    let r = download(&app, &token, id).await;
    assert_eq!(
        problem(r, 410).await["type"],
        "https://insyn.example/problems/package-erased"
    );
    let left: Vec<_> = std::fs::read_dir(store.path().join("packages"))
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "{left:?}");
}

both_backends!(
    an_access_package_holds_what_the_municipality_sent_the_person_and_an_export_does_not,
    |b: Backend| async move {
        const PAGE: &str = "12345654332";
        const PERSON: &str = "987654321432";
        let (_store, app, archivist, officer, _) = package_app(b, "1").await;
        let messenger = channel(&app, &archivist, "messenger", PAGE).await;
        let basic: Value = serde_json::from_str(
            &std::fs::read_to_string(format!(
                "{}/../shared/fixtures/meta-graph/restfb/webhooks_messaging-message-basic.json",
                env!("CARGO_MANIFEST_DIR")
            ))
            .unwrap(),
        )
        .unwrap();
        let answer = crate::erasure::page_answer(PAGE, PERSON, "mid.answer", "Hej! Vi återkommer.");
        let elsewhere = crate::erasure::page_answer(PAGE, "555", "mid.other", "Till någon annan");
        // The Graph API names the person in `to`.
        let graph = json!({"id": "m_graph1", "created_time": "2016-03-12T07:00:00+0000",
            "from": {"id": PAGE, "name": "Kommunen"},
            "to": {"data": [{"id": PERSON, "name": "Per Person"}]},
            "message": "Här är svaret på din fråga."});
        for body in [&basic, &answer, &elsewhere, &graph] {
            assert_eq!(
                import(&app, &archivist, messenger, body).await.status(),
                200
            );
        }
        let person = json!([{"platform": "messenger", "value": PERSON}]);

        let (id, token, _) = completed(
            &app,
            &officer,
            json!({"type": "access", "email": "per@example.se", "identities": person}),
        )
        .await;
        let f = files(&ready(&app, &token, id).await);
        let data: Value = serde_json::from_slice(&f["data.json"]).unwrap();
        valid_under_schema(&data);
        let shown: Vec<(&str, &str, &str)> = data["records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["role"].as_str().unwrap(),
                    r["direction"].as_str().unwrap(),
                    r["text"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            shown,
            [
                ("author", "received", "hello, world!"),
                ("recipient", "drawn_up", "Hej! Vi återkommer."),
                ("recipient", "drawn_up", "Här är svaret på din fråga."),
            ]
        );
        let html = String::from_utf8(f["index.html"].clone()).unwrap();
        let heading = html
            .find("<h2>Meddelanden som kommunen har skickat till dig</h2>")
            .expect("a heading of their own");
        assert!(html.find("hello, world!").unwrap() < heading);
        assert!(html.find("Hej! Vi återkommer.").unwrap() > heading);
        assert!(!html.contains("Till någon annan"));
        let csv = String::from_utf8(f["records.csv"].clone()).unwrap();
        assert!(csv.lines().next().unwrap().ends_with(",role"), "{csv}");
        assert_eq!(csv.lines().filter(|l| l.ends_with(",recipient")).count(), 2);
        // Someone who only ever got an answer: nothing of theirs, then what they were sent.
        let (other, other_token, _) = completed(
            &app,
            &officer,
            json!({"type": "access", "email": "annan@example.se",
                "identities": [{"platform": "messenger", "value": "555"}]}),
        )
        .await;
        let f = files(&ready(&app, &other_token, other).await);
        let html = String::from_utf8(f["index.html"].clone()).unwrap();
        let wrote = html.find("Det du har skrivit").unwrap();
        let none = html
            .find("<p>Inget hittades.</p>")
            .expect("nothing they wrote, said so");
        let sent = html
            .find("Meddelanden som kommunen har skickat till dig")
            .unwrap();
        assert!(wrote < none && none < sent, "{html}");
        assert!(html.contains("Till någon annan") && !html.contains("hello, world!"));

        // An export is what the person provided (Art. 20): not what was sent to them.
        let (id, _, _) = completed(
            &app,
            &officer,
            json!({"type": "export", "email": "per@example.se", "identities": person}),
        )
        .await;
        let f = files(&ready(&app, &officer, id).await);
        let data: Value = serde_json::from_slice(&f["data.json"]).unwrap();
        valid_under_schema(&data);
        let records = data["records"].as_array().unwrap();
        assert_eq!(records.len(), 1, "{records:?}");
        assert_eq!(records[0]["role"], "author");
    }
);

both_backends!(
    what_a_classified_record_says_is_not_shown_where_a_reply_answers_it,
    |b: Backend| async move {
        let (_store, app, archivist, officer, ch) = package_app(b, PAGE).await;
        assert_eq!(import(&app, &archivist, ch, &thread()).await.status(), 200);
        // Anna's comment is classified; her own reply to it is not.
        for (id, parent, text) in [
            ("1_50", PAGE.to_owned() + "_1", "Hemligt X"),
            ("1_51", "1_50".to_owned(), "Ok"),
        ] {
            let item = json!({"id": id, "from": {"id": "501", "name": "Anna Andersson"},
                "message": text, "created_time": "2024-03-03T10:00:00+0000",
                "parent": {"id": parent}});
            assert_eq!(import(&app, &archivist, ch, &item).await.status(), 200);
        }
        let r = moderate(
            &app,
            &archivist,
            ch,
            "1_50",
            "classified_information",
            "hide",
        )
        .await;
        assert_eq!(r.status(), 201);
        let (id, token, _) = completed(
            &app,
            &officer,
            json!({"type": "access", "email": "anna@example.se",
                "identities": [{"platform": "facebook", "value": "501"}]}),
        )
        .await;
        let f = files(&ready(&app, &token, id).await);
        for (name, bytes) in &f {
            assert!(
                !String::from_utf8_lossy(bytes).contains("Hemligt X"),
                "{name} shows the classified text"
            );
        }
        let data: Value = serde_json::from_slice(&f["data.json"]).unwrap();
        let reply = data["records"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["platform_id"] == "1_51")
            .unwrap();
        assert_eq!(reply["in_reply_to"], "[undantaget: omfattas av sekretess]");
    }
);

both_backends!(
    a_package_lists_the_persons_requests_not_those_of_an_address_shared_with_others,
    |b: Backend| async move {
        let (_store, app, archivist, officer, ch) = package_app(b, PAGE).await;
        assert_eq!(import(&app, &archivist, ch, &thread()).await.status(), 200);
        // Bo writes from the family's address; Anna asked before from an address of her own.
        let bo = app
            .client
            .post(app.url("/api/v1/requests"))
            .json(&json!({"type": "objection", "email": "familjen@example.se",
                "identities": [{"platform": "facebook", "value": "502"}]}))
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap();
        let (_, _, before) = completed(
            &app,
            &officer,
            json!({"type": "access", "email": "anna@example.se",
                "identities": [{"platform": "facebook", "value": "501"}]}),
        )
        .await;
        let (id, token, this) = completed(
            &app,
            &officer,
            json!({"type": "access", "email": "familjen@example.se",
                "identities": [{"platform": "facebook", "value": "501"}]}),
        )
        .await;
        let data: Value =
            serde_json::from_slice(&files(&ready(&app, &token, id).await)["data.json"]).unwrap();
        let listed: Vec<&str> = data["requests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["reference"].as_str().unwrap())
            .collect();
        assert_eq!(
            listed,
            [before.as_str().unwrap(), this.as_str().unwrap()],
            "not Bo's {}",
            bo["reference"]
        );
    }
);

both_backends!(
    the_purge_takes_package_files_no_package_holds,
    |b: Backend| async move {
        let (store, app, archivist, officer, ch) = package_app(b, PAGE).await;
        assert_eq!(import(&app, &archivist, ch, &thread()).await.status(), 200);
        let (id, token, _) = completed(
            &app,
            &officer,
            json!({"type": "access", "email": "anna@example.se",
                "identities": [{"platform": "facebook", "value": "501"}]}),
        )
        .await;
        ready(&app, &token, id).await;
        let dir = store.path().join("packages");
        // What a build cut short by a crash leaves, and the file of a build that never got to
        // commit, both a day old; and one written a moment ago, perhaps by a build under way.
        let day_old = std::time::SystemTime::now() - std::time::Duration::from_secs(24 * 3600);
        let mut left = vec![];
        for name in [
            "9-abc.partial",
            "9-abc.csv.part",
            "10-def.zip",
            "11-ghi.zip",
        ] {
            let path = dir.join(name);
            std::fs::write(&path, "Äntligen! (Anna Andersson)").unwrap();
            if name != "11-ghi.zip" {
                std::fs::File::options()
                    .write(true)
                    .open(&path)
                    .unwrap()
                    .set_modified(day_old)
                    .unwrap();
            }
            left.push(path);
        }
        let storage = insyn::packages::Storage {
            dir: dir.clone(),
            days: 30,
            public_url: String::new(),
            time_zone: chrono_tz::Europe::Stockholm,
        };
        insyn::packages::store::purge(&app.db, &storage)
            .await
            .unwrap();
        for path in &left[..3] {
            assert!(!path.exists(), "{path:?} is still there");
        }
        assert!(left[3].exists(), "a fresh file may be a build under way");
        // The ready package's file stays, and downloads.
        assert_eq!(download(&app, &token, id).await.status(), 200);
    }
);
