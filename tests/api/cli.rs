//! The operator's command line, run as the real binary.
use std::process::Command;

fn insyn(db: &str, args: &[&str]) -> (bool, String, String) {
    insyn_with(db, args, &[])
}

fn insyn_with(db: &str, args: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_insyn"))
        .args(args)
        .env("DATABASE_URL", db)
        .env("INSYN_SMTP_URL", "smtp://mailer:s3cret@127.0.0.1:2525")
        .envs(env.iter().copied())
        .output()
        .expect("run insyn");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn tokens_are_created_listed_and_revoked_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}?mode=rwc", dir.path().join("cli.db").display());

    let (ok, secret, err) = insyn(
        &db,
        &["token", "create", "--role", "officer", "--name", "kansliet"],
    );
    assert!(ok, "{err}");
    let secret = secret.trim();
    assert!(
        secret.starts_with("insyn_") && secret.len() == 70,
        "{secret}"
    );
    assert!(err.contains("shown once"));

    let (ok, list, _) = insyn(&db, &["token", "list"]);
    assert!(ok);
    assert!(list.contains("officer") && list.contains("kansliet") && list.contains("active"));
    assert!(!list.contains(secret), "a listing must never show a secret");

    let (ok, out, _) = insyn(&db, &["token", "revoke", "1"]);
    assert!(ok);
    assert!(out.contains("revoked"));
    let (_, list, _) = insyn(&db, &["token", "list"]);
    assert!(list.contains("revoked"));

    let (ok, _, err) = insyn(&db, &["token", "create", "--role", "boss", "--name", "x"]);
    assert!(!ok);
    assert!(err.contains("unknown role"), "{err}");
    let (ok, _, _) = insyn(&db, &["token", "revoke", "99"]);
    assert!(!ok);
}

#[test]
fn settings_print_with_secrets_redacted() {
    let (ok, out, err) = insyn("postgres://insyn:hunter2@db.internal/insyn", &["settings"]);
    assert!(ok, "{err}");
    assert!(out.contains("db.internal") && out.contains("127.0.0.1:2525"));
    assert!(!out.contains("hunter2") && !out.contains("s3cret"), "{out}");
}

#[test]
fn every_command_has_help() {
    for args in [
        vec!["--help"],
        vec!["serve", "--help"],
        vec!["migrate", "--help"],
        vec!["token", "--help"],
        vec!["token", "create", "--help"],
        vec!["token", "list", "--help"],
        vec!["token", "revoke", "--help"],
        vec!["openapi", "--help"],
    ] {
        let (ok, out, _) = insyn("sqlite::memory:", &args);
        assert!(ok && out.contains("Usage"), "{args:?}");
    }
}

#[tokio::test]
async fn files_are_imported_and_verified_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}?mode=rwc", dir.path().join("cli.db").display());
    {
        let conn = insyn::db::connect(&db).await.unwrap();
        insyn::db::migrate(&conn).await.unwrap();
        insyn::archive::store::create_channel(
            &conn,
            insyn::archive::store::NewChannel {
                platform: insyn::archive::rules::Platform::Facebook,
                account_id: "1234567890321".into(),
                name: "Kommunen".into(),
                department: None,
            },
            &insyn::audit::Actor::cli(),
        )
        .await
        .unwrap();
        conn.close().await.unwrap();
    }
    let fixtures = format!(
        "{}/../shared/fixtures/meta-graph/restfb",
        env!("CARGO_MANIFEST_DIR")
    );
    let ndjson = dir.path().join("bulk.ndjson");
    let lines: Vec<String> = [
        "webhooks_feed-post-add-25.json",
        "webhooks_feed-status-add-25.json",
    ]
    .iter()
    .map(|f| {
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(format!("{fixtures}/{f}")).unwrap())
                .unwrap();
        v.to_string()
    })
    .collect();
    std::fs::write(&ndjson, lines.join("\n")).unwrap();
    let comment = format!("{fixtures}/post-with-normal-comments.json");
    let missing = dir.path().join("missing.json");
    let (ok, out, err) = insyn(
        &db,
        &[
            "import",
            "--channel",
            "1",
            &comment,
            missing.to_str().unwrap(),
            ndjson.to_str().unwrap(),
        ],
    );
    // A file that cannot be read is named, and the files after it are imported all the same.
    assert!(!ok, "{err}");
    assert!(out.is_empty() || !out.contains("rejected"));
    assert!(
        err.contains("post-with-normal-comments.json: 2 created"),
        "{err}"
    );
    assert!(err.contains("missing.json: cannot be read"), "{err}");
    assert!(err.contains("bulk.ndjson: 2 created"), "{err}");

    let (ok, out, _) = insyn(&db, &["archive", "verify"]);
    assert!(ok);
    assert!(out.contains("4 records checked, 0 fail"), "{out}");

    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{\"hello\": 1}").unwrap();
    let (ok, _, err) = insyn(&db, &["import", "--channel", "1", bad.to_str().unwrap()]);
    assert!(!ok);
    assert!(err.contains("rejected"), "{err}");
}

#[test]
fn the_import_benchmark_runs_and_reports_beside_the_raw_limit() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("bench.db").display()
    );
    let (ok, out, err) = insyn(&db, &["bench", "import", "--records", "300"]);
    assert!(ok, "{err}");
    let imported = out
        .lines()
        .find_map(|l| l.strip_prefix("records imported:"))
        .map(|n| n.trim().to_owned());
    assert_eq!(imported.as_deref(), Some("303"), "{out}");
    assert!(out.contains("records of a heavy identity:"), "{out}");
    assert!(
        out.contains("raw multi-row INSERT") && out.contains("ratio"),
        "{out}"
    );
}

#[test]
fn dispose_lists_with_dry_run_and_needs_a_mode() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}?mode=rwc", dir.path().join("d.db").display());
    let (ok, out, err) = insyn(&db, &["dispose", "--dry-run"]);
    assert!(ok, "{err}");
    assert!(
        out.contains("0 records checked, 0 would be disposed of"),
        "{out}"
    );
    let (ok, out, _) = insyn(&db, &["dispose", "--execute"]);
    assert!(ok);
    assert!(out.contains("0 disposed of"), "{out}");
    let (ok, _, err) = insyn(&db, &["dispose"]);
    assert!(!ok, "a mode is required");
    assert!(
        err.contains("--dry-run") || err.contains("--execute"),
        "{err}"
    );
}

#[test]
fn the_intake_benchmark_reports_beside_hello_world() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}?mode=rwc", dir.path().join("i.db").display());
    let (ok, out, err) = insyn(
        &db,
        &["bench", "intake", "--requests", "40", "--connections", "4"],
    );
    assert!(ok, "{err}");
    let line = out
        .lines()
        .find(|l| l.starts_with("POST /api/v1/requests"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        line.contains("40 requests") && line.ends_with("failures 0"),
        "{line}"
    );
    assert!(out.contains("% of the hello-world rate"), "{out}");
}

#[test]
fn the_erasure_and_package_benchmarks_run_one_after_the_other_on_one_archive() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}?mode=rwc", dir.path().join("p.db").display());
    let (ok, _, err) = insyn(&db, &["bench", "import", "--records", "300"]);
    assert!(ok, "{err}");
    let (ok, out, err) = insyn(&db, &["bench", "erasure", "--identities", "1"]);
    assert!(ok, "{err}");
    assert!(
        out.contains("raw anonymising UPDATE of the same rows"),
        "{out}"
    );
    // The erasure's requests were keyed with the benches' secret; the package bench opens them.
    let (ok, out, err) = insyn(&db, &["bench", "package", "--big", "100"]);
    assert!(ok, "{err}");
    assert!(
        out.contains("access package of the heaviest identity:"),
        "{out}"
    );
    assert!(
        out.contains("package of 100 records:") && out.contains("peak RSS"),
        "{out}"
    );
}

#[test]
fn a_command_without_the_services_secret_refuses_to_key_its_work_with_a_new_one() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}?mode=rwc", dir.path().join("cli.db").display());
    let service = dir.path().join("service-data");
    let service = service.to_str().unwrap();
    let payload = dir.path().join("empty.json");
    std::fs::write(&payload, "[]").unwrap();
    let import = |data_dir: &str| {
        insyn_with(
            &db,
            &["import", "--channel", "1", payload.to_str().unwrap()],
            &[("INSYN_DATA_DIR", data_dir)],
        )
    };
    // A database that holds nothing keyed yet: the first command makes the key.
    let (_, _, err) = import(service);
    assert!(!err.contains("no server secret"), "{err}");
    let key = std::fs::read_to_string(format!("{service}/secret.key")).unwrap();
    assert_eq!(key.len(), 64);

    // Once something is keyed with it (here an erasure's entry), a command run where there is no
    // key file stops.
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        use sea_orm::{ActiveModelTrait, Set};
        let conn = insyn::db::connect(&db).await.unwrap();
        entities::suppression::ActiveModel {
            kind: Set("record".into()),
            key_hash: Set("ab".repeat(32)),
            request_id: Set(None),
            created_at: Set(insyn::audit::now()),
            ..Default::default()
        }
        .insert(&conn)
        .await
        .unwrap();
        conn.close().await.unwrap();
    });
    let elsewhere = dir.path().join("elsewhere");
    let (ok, _, err) = import(elsewhere.to_str().unwrap());
    assert!(!ok);
    assert!(err.contains("no server secret"), "{err}");
    assert!(!elsewhere.join("secret.key").exists());
    // A key file cut short (an empty one left by a crash) is not used either.
    std::fs::write(format!("{service}/secret.key"), "").unwrap();
    let (ok, _, err) = import(service);
    assert!(!ok);
    assert!(err.contains("shorter than 32 characters"), "{err}");
}

#[test]
fn serve_stops_gracefully_on_sigterm() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let db = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("serve.db").display()
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_insyn"))
        .arg("serve")
        .env("DATABASE_URL", &db)
        .env("INSYN_LISTEN", "127.0.0.1:0")
        .env("INSYN_DATA_DIR", dir.path().join("data"))
        .env("INSYN_LOG_FORMAT", "json")
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("start insyn serve");
    // The log goes to stdout or stderr depending on the build: read both for "listening".
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    for stream in [
        Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
        Box::new(child.stderr.take().unwrap()),
    ] {
        let tx = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
    }
    let mut log = String::new();
    while !log.contains("listening") {
        let line = rx
            .recv_timeout(std::time::Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("insyn serve did not start: {log}"));
        log.push_str(&line);
        log.push('\n');
    }
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "still running after SIGTERM"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    while let Ok(line) = rx.recv_timeout(std::time::Duration::from_millis(500)) {
        log.push_str(&line);
        log.push('\n');
    }
    assert!(status.success(), "{status:?}: {log}");
    assert!(log.contains("shutting down"), "{log}");
}
