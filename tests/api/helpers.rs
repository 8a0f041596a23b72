use insyn::{app, audit::Actor, auth, config::Settings};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection};

pub struct TestApp {
    pub base: String,
    pub database_url: String,
    pub db: DatabaseConnection,
    pub admin: String,
    /// The server's secret the app runs with.
    pub secret: insyn::secret::ServerSecret,
    pub client: reqwest::Client,
    _dir: Option<tempfile::TempDir>,
    _data: tempfile::TempDir,
}

#[derive(Clone, Copy, Debug)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The PostgreSQL server the tests use; each test gets its own database on it.
fn pg_server() -> String {
    std::env::var("INSYN_TEST_PG").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

/// A new, empty database of its own for one test, and the directory that holds it on SQLite.
pub async fn fresh_database_url(backend: Backend) -> (String, Option<tempfile::TempDir>) {
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().expect("temp dir");
            let url = format!(
                "sqlite://{}?mode=rwc",
                dir.path().join("insyn.db").display()
            );
            (url, Some(dir))
        }
        Backend::Postgres => {
            let name = format!("insyn_test_{}", hex::encode(rand::random::<[u8; 8]>()));
            let admin = Database::connect(format!("{}/postgres", pg_server()))
                .await
                .expect("PostgreSQL must be running for the tests (see README)");
            admin
                .execute_unprepared(&format!("CREATE DATABASE {name}"))
                .await
                .expect("create test database");
            admin.close().await.ok();
            (format!("{}/{name}", pg_server()), None)
        }
    }
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |_| {}).await
}

pub async fn spawn_app_with(backend: Backend, tweak: impl FnOnce(&mut Settings)) -> TestApp {
    let (database_url, dir) = fresh_database_url(backend).await;
    // Packages go to a directory of their own, gone with the test.
    let data = tempfile::tempdir().expect("temp dir");
    let mut settings = Settings {
        database_url,
        listen: "127.0.0.1:0".into(),
        data_dir: data.path().to_string_lossy().into_owned(),
        ..Settings::default()
    };
    tweak(&mut settings);
    let database_url = settings.database_url.clone();
    let state = app::prepare(settings).await.expect("prepare app");
    let db = state.db.clone();
    let secret = state.secret.clone();
    let admin = auth::store::create(
        &db,
        &auth::rules::TokenName::parse("test admin").unwrap(),
        auth::Role::Admin,
        &Actor::cli(),
    )
    .await
    .expect("admin token")
    .secret;
    let (acceptor, addr) = app::bind("127.0.0.1:0").await.expect("bind");
    tokio::spawn(app::serve(state, acceptor, std::future::pending()));
    TestApp {
        base: format!("http://{addr}"),
        database_url,
        db,
        admin,
        secret,
        client: reqwest::Client::new(),
        _dir: dir,
        _data: data,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// POSTs a JSON body with a bearer token.
    pub async fn post_json(
        &self,
        path: &str,
        token: &str,
        body: &serde_json::Value,
    ) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// Creates a token with `role` through the API and returns (id, secret).
    pub async fn token(&self, role: &str) -> (i64, String) {
        let resp = self
            .client
            .post(self.url("/api/v1/tokens"))
            .bearer_auth(&self.admin)
            .json(&serde_json::json!({"name": format!("{role} token"), "role": role}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 201);
        let body: serde_json::Value = resp.json().await.unwrap();
        (
            body["id"].as_i64().unwrap(),
            body["secret"].as_str().unwrap().to_owned(),
        )
    }
}

/// Asserts a problem+json answer with this status and returns its body.
pub async fn problem(resp: reqwest::Response, status: u16) -> serde_json::Value {
    assert_eq!(resp.status().as_u16(), status);
    let ct = resp.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(
        ct.starts_with("application/problem+json"),
        "content-type was {ct}"
    );
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["status"], status);
    assert!(body["type"].is_string() && body["title"].is_string() && body["detail"].is_string());
    body
}

/// Runs one async test body on SQLite and on PostgreSQL, as two tests.
#[macro_export]
macro_rules! both_backends {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;
            #[tokio::test]
            async fn sqlite() {
                ($body)($crate::helpers::Backend::Sqlite).await
            }
            #[tokio::test]
            async fn postgres() {
                ($body)($crate::helpers::Backend::Postgres).await
            }
        }
    };
}
