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
    /// Print the effective settings, secrets redacted.
    Settings,
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
            tracing::info!(settings = ?settings, "starting");
            let listen = settings.listen.clone();
            let state = app::prepare(settings).await?;
            let (acceptor, addr) = app::bind(&listen).await?;
            tracing::info!(%addr, "listening");
            app::serve(state, acceptor, async {
                let _ = tokio::signal::ctrl_c().await;
                tracing::info!("shutting down");
            })
            .await?;
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
