//! The `insyn` command line.
use clap::{Parser, Subcommand};
use insyn::{app, audit::Actor, auth, config::Settings, db};

#[derive(Parser)]
#[command(
    name = "insyn",
    version,
    about = "GDPR data-subject requests over a social-media archive"
)]
struct Cli {
    /// An optional TOML file with the same settings as the environment variables.
    #[arg(long, global = true, env = "INSYN_CONFIG")]
    config: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Migrate the database if needed, then serve HTTP until interrupted.
    Serve,
    /// Apply pending migrations and exit.
    Migrate,
    /// Manage API tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Print the OpenAPI document (what openapi/openapi.json holds).
    Openapi,
    /// Import platform payloads (JSON, or NDJSON with one payload per line) into a channel.
    Import {
        /// The channel's id, as `GET /api/v1/channels` shows it.
        #[arg(long)]
        channel: i64,
        /// Files to import; each is one transaction, so a bad file leaves the others imported.
        #[arg(required = true)]
        files: Vec<std::path::PathBuf>,
    },
    /// Benchmarks, each beside the raw SQL limit of the same operation, measured in the same run.
    Bench {
        #[command(subcommand)]
        command: BenchCommand,
    },
    /// Archive maintenance.
    Archive {
        #[command(subcommand)]
        command: ArchiveCommand,
    },
    /// Dispose of the records whose disposal date under a disposal decision has passed (not held,
    /// not registered). Lists them with --dry-run; deletes them with --execute.
    Dispose {
        #[arg(long, conflicts_with = "execute", required_unless_present = "execute")]
        dry_run: bool,
        #[arg(long)]
        execute: bool,
    },
    /// Print the effective settings, secrets redacted.
    Settings,
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Generate an archive as NDJSON, import it, and compare with a raw INSERT of the same rows.
    /// Use an empty database: DATABASE_URL=sqlite://bench.db?mode=rwc or a fresh PostgreSQL database.
    Import {
        /// How many records to generate.
        #[arg(long, default_value_t = 1_000_000)]
        records: u64,
    },
    /// Time "all records of the heaviest identity" in the archive as it is (after `bench import`),
    /// through the store and as a raw SELECT.
    Query,
    /// On the archive `bench import` left: the heaviest identity's access package built and
    /// downloaded over HTTP, beside a raw SELECT; then peak RSS for a package of `--big` records
    /// (which reassigns that many records of the bench archive to one new identity).
    Package {
        #[arg(long, default_value_t = 100_000)]
        big: u64,
        /// How many times the heaviest identity's package is built and downloaded.
        #[arg(long, default_value_t = 11)]
        runs: u32,
    },
    /// On the archive `bench import` left: the erasure of the `--identities` heaviest identities
    /// (about 1,000 records each, every one due for disposal) planned and executed, each beside
    /// the raw anonymising UPDATE of the same rows. It erases those records: run it last.
    Erasure {
        #[arg(long, default_value_t = 5)]
        identities: u64,
    },
    /// Serve the app and load `POST /api/v1/requests` at N connections, beside `GET /healthz`.
    Intake {
        #[arg(long, default_value_t = 20_000)]
        requests: u64,
        #[arg(long, default_value_t = 64)]
        connections: u64,
    },
}

#[derive(Subcommand)]
enum ArchiveCommand {
    /// Recompute every version's fixity hash and list the records that no longer match.
    Verify,
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create a token and print its secret once.
    Create {
        /// admin, officer, archivist, auditor or integration.
        #[arg(long)]
        role: String,
        /// What the token is for.
        #[arg(long)]
        name: String,
    },
    /// List tokens (never their secrets).
    List,
    /// Revoke a token by id.
    Revoke {
        /// The token's id, as `token list` shows it.
        id: i64,
    },
}

fn init_tracing(settings: &Settings) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if settings.log_format == insyn::config::LogFormat::Json {
        builder.json().init();
    } else {
        builder.init();
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Command::Openapi = cli.command {
        print!("{}", app::openapi_json());
        return Ok(());
    }
    let settings = Settings::load(cli.config.as_deref())?;
    init_tracing(&settings);
    match cli.command {
        Command::Openapi => unreachable!("handled above"),
        Command::Settings => println!("{settings:#?}"),
        Command::Serve => {
            let stop = stopped();
            tracing::info!(settings = ?settings, "starting");
            let listen = settings.listen.clone();
            let state = app::prepare(settings).await?;
            let (acceptor, addr) = app::bind(&listen).await?;
            tracing::info!(%addr, "listening");
            app::serve(state, acceptor, async {
                stop.await;
                tracing::info!("shutting down");
            })
            .await?;
        }
        Command::Import { channel, files } => {
            let conn = db::connect(&settings.database_url).await?;
            db::migrate(&conn).await?;
            let secret = insyn::secret::ServerSecret::load(&settings, &conn).await?;
            let requests = insyn::app::request_context(&settings, &secret);
            import_files(
                &conn,
                channel,
                &files,
                &settings.policy_version,
                &secret.suppression(),
                &requests,
            )
            .await?;
        }
        Command::Archive {
            command: ArchiveCommand::Verify,
        } => {
            let conn = db::connect(&settings.database_url).await?;
            let (checked, failing) = insyn::archive::store::verify_all(&conn).await?;
            println!("{checked} records checked, {} fail fixity", failing.len());
            for id in &failing {
                println!("record {id}: a version's content does not match its hash");
            }
            if !failing.is_empty() {
                std::process::exit(1);
            }
        }
        Command::Bench {
            command: BenchCommand::Import { records },
        } => {
            let conn = db::connect(&settings.database_url).await?;
            db::migrate(&conn).await?;
            // The bench's payloads carry no account phrase: no request is proved, nothing mailed.
            let requests =
                insyn::app::request_context(&settings, &insyn::secret::ServerSecret::new(b"bench"));
            let r = insyn::bench::run(&conn, records, &requests).await?;
            println!("records imported:            {}", r.records);
            println!(
                "import (parse+version+hash): {:.0} records/s = {:.0} rows/s (identities, records, versions)",
                r.import_per_sec, r.import_rows_per_sec
            );
            println!(
                "raw multi-row INSERT:        {:.0} rows/s (the same rows, same indexes)",
                r.raw_rows_per_sec
            );
            println!(
                "ratio:                       {:.1} %",
                100.0 * r.import_rows_per_sec / r.raw_rows_per_sec
            );
            println!(
                "records of a heavy identity: {} in {:.2} ms (raw indexed SELECT {:.2} ms)",
                r.heavy_identity_records, r.identity_query_ms, r.raw_identity_query_ms
            );
        }
        Command::Bench {
            command: BenchCommand::Package { big, runs },
        } => {
            let r = insyn::bench_package::run(settings, big, runs).await?;
            println!(
                "access package of the heaviest identity: {} records, built and downloaded in {:.2} ms (median; raw SELECT {:.2} ms)",
                r.records, r.median_ms, r.raw_ms
            );
            println!(
                "package of {} records: {} bytes in {:.0} ms; peak RSS {:.0} MiB (before it: {:.0} MiB)",
                r.big_records, r.big_bytes, r.big_ms, r.peak_rss_mb, r.rss_before_mb
            );
        }
        Command::Bench {
            command: BenchCommand::Erasure { identities },
        } => {
            let r = insyn::bench_erasure::run(settings, identities).await?;
            println!(
                "erasure of {} identities of {:.0} records each (medians): plan {:.1} ms + execute {:.1} ms = {:.1} ms; raw anonymising UPDATE of the same rows {:.2} ms ({:.1}x); raw DELETEs and suppression INSERTs of the same rows {:.2} ms ({:.1}x); the same with tombstones {:.2} ms ({:.1}x)",
                r.identities,
                r.records,
                r.plan_ms,
                r.execute_ms,
                r.total_ms,
                r.raw_ms,
                r.total_ms / r.raw_ms.max(f64::EPSILON),
                r.raw_erase_ms,
                r.total_ms / r.raw_erase_ms.max(f64::EPSILON),
                r.raw_tombstone_ms,
                r.total_ms / r.raw_tombstone_ms.max(f64::EPSILON)
            );
            println!(
                "a slimmer store's floor (not built: records anonymised in place, a suppression hash and an unpublish task each) {:.2} ms = {:.1}x the anonymising UPDATE, before any plan",
                r.raw_slim_ms,
                r.raw_slim_ms / r.raw_ms.max(f64::EPSILON)
            );
        }
        Command::Bench {
            command: BenchCommand::Query,
        } => {
            let conn = db::connect(&settings.database_url).await?;
            let (found, store_ms, raw_ms) = insyn::bench::query(&conn).await?;
            println!(
                "records of the heaviest identity: {found} in {store_ms:.2} ms (raw SELECT {raw_ms:.2} ms)"
            );
        }
        Command::Bench {
            command:
                BenchCommand::Intake {
                    requests,
                    connections,
                },
        } => {
            let r = insyn::bench_intake::run(settings, requests, connections).await?;
            for (name, l) in [
                ("GET /healthz", &r.hello),
                ("POST /api/v1/requests", &r.intake),
            ] {
                println!(
                    "{name:<24} {:>6} requests  {:>8.0} /s  p50 {:>6.2} ms  p99 {:>6.2} ms  failures {}",
                    l.requests, l.per_sec, l.p50_ms, l.p99_ms, l.failures
                );
            }
            println!(
                "raw INSERT of the rows those requests wrote: {} rows in transactions of {} requests' rows, {:.0} rows/s = {:.0} requests/s",
                r.raw.rows, r.raw.batch, r.raw.rows_per_sec, r.raw.requests_per_sec
            );
            println!(
                "intake at {connections} connections: {:.1} % of the hello-world rate, {:.1} % of the raw INSERT of its rows",
                100.0 * r.intake.per_sec / r.hello.per_sec,
                100.0 * r.intake.per_sec / r.raw.requests_per_sec
            );
            println!(
                "raw INSERT of a slimmer store's rows (not built: request, accounts, mails unrendered, job): {} rows, {:.0} rows/s = {:.0} requests/s = {:.1} % of the hello-world rate",
                r.raw_slim.rows,
                r.raw_slim.rows_per_sec,
                r.raw_slim.requests_per_sec,
                100.0 * r.raw_slim.requests_per_sec / r.hello.per_sec
            );
        }
        Command::Dispose { execute, .. } => {
            let conn = db::connect(&settings.database_url).await?;
            db::migrate(&conn).await?;
            let tz = settings.zone();
            let today = insyn::retention::api::today(tz);
            let run =
                insyn::retention::store::dispose(&conn, today, tz, execute, &Actor::cli()).await?;
            let verb = if execute {
                "disposed of"
            } else {
                "would be disposed of"
            };
            println!(
                "{} records checked, {} {verb} ({today})",
                run.checked,
                run.disposed()
            );
            for (decision, ids) in &run.by_decision {
                println!("  under {decision}: {} records: {ids:?}", ids.len());
            }
        }
        Command::Migrate => {
            let conn = db::connect(&settings.database_url).await?;
            db::migrate(&conn).await?;
            println!("migrations applied");
        }
        Command::Token { command } => {
            let conn = db::connect(&settings.database_url).await?;
            db::migrate(&conn).await?;
            match command {
                TokenCommand::Create { role, name } => {
                    let role: auth::Role = role.parse()?;
                    let name = auth::rules::TokenName::parse(&name)
                        .map_err(|why| anyhow::anyhow!("--name {why}"))?;
                    let created = auth::store::create(&conn, &name, role, &Actor::cli()).await?;
                    eprintln!(
                        "token {} ({}) created; the secret below is shown once:",
                        created.token.id, role
                    );
                    println!("{}", created.secret);
                }
                TokenCommand::List => {
                    println!(
                        "{:>6}  {:<12} {:<26} {:<10} name",
                        "id", "role", "created", "state"
                    );
                    for t in auth::store::list(&conn).await? {
                        let state = if t.revoked_at.is_some() {
                            "revoked"
                        } else {
                            "active"
                        };
                        println!(
                            "{:>6}  {:<12} {:<26} {:<10} {}",
                            t.id,
                            t.role,
                            t.created_at.format("%Y-%m-%d %H:%M:%S UTC"),
                            state,
                            t.name
                        );
                    }
                }
                TokenCommand::Revoke { id } => {
                    match auth::store::revoke(&conn, id, &Actor::cli()).await? {
                        Some(_) => println!("token {id} revoked"),
                        None => anyhow::bail!("no token with id {id}"),
                    }
                }
            }
        }
    }
    Ok(())
}

/// A future that resolves on Ctrl-C, or on SIGTERM (what systemd and container runtimes send to
/// stop a service). The handlers are installed when it is made, not when it is first polled, so a
/// signal that comes while the service starts is not the default's immediate death.
fn stopped() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let term = signal(SignalKind::terminate());
        let interrupt = signal(SignalKind::interrupt());
        async move {
            match (term, interrupt) {
                (Ok(mut term), Ok(mut interrupt)) => {
                    tokio::select! {
                        _ = term.recv() => {}
                        _ = interrupt.recv() => {}
                    }
                }
                _ => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Imports files one transaction each, with a progress bar over the files' bytes.
async fn import_files(
    conn: &sea_orm::DatabaseConnection,
    channel: i64,
    files: &[std::path::PathBuf],
    policy_version: &str,
    key: &insyn::erasure::SuppressionKey,
    requests: &insyn::requests::store::Context,
) -> anyhow::Result<()> {
    use insyn::archive::{import, store};
    let total: u64 = files
        .iter()
        .map(|f| std::fs::metadata(f).map(|m| m.len()).unwrap_or(0))
        .sum();
    let bar = indicatif::ProgressBar::new(total).with_style(
        indicatif::ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let mut failed = false;
    for file in files {
        let name = file.display().to_string();
        bar.set_message(name.clone());
        // A file that cannot be read is reported by name, and the others are imported.
        let text = match std::fs::read_to_string(file) {
            Ok(text) => text,
            Err(e) => {
                failed = true;
                bar.suspend(|| eprintln!("{name}: cannot be read: {e}"));
                continue;
            }
        };
        let ndjson = name.ends_with(".ndjson") || name.ends_with(".jsonl");
        let documents = if ndjson {
            import::ndjson(&text)
        } else {
            serde_json::from_str(&text)
                .map(|v| vec![(String::new(), v)])
                .map_err(|e| import::Rejected {
                    pointer: "/".into(),
                    reason: format!("is not valid JSON: {e}"),
                })
        };
        let parsed =
            documents.and_then(|docs| import::parse_all(docs.iter().map(|(p, d)| (p.as_str(), d))));
        match parsed {
            Ok(p) => {
                let counts = store::import(
                    conn,
                    channel,
                    p.observations,
                    p.skipped,
                    &Actor::cli(),
                    policy_version,
                    key,
                    requests,
                )
                .await?;
                let routed: String = counts
                    .routed
                    .iter()
                    .map(|(c, n)| format!(", {n} archived under channel {c}"))
                    .collect();
                bar.suspend(|| {
                    eprintln!(
                        "{name}: {} created, {} new versions, {} unchanged, {} suppressed, {} skipped{routed}",
                        counts.created,
                        counts.new_versions,
                        counts.unchanged,
                        counts.suppressed,
                        counts.skipped.len()
                    )
                });
            }
            Err(r) => {
                failed = true;
                bar.suspend(|| eprintln!("{name}: rejected at {}: {}", r.pointer, r.reason));
            }
        }
        bar.inc(text.len() as u64);
    }
    bar.finish_and_clear();
    if failed {
        anyhow::bail!("some files were rejected; the others were imported");
    }
    Ok(())
}
