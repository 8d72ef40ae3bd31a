//! ferry's command line.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(version, about = "An XMPP gateway to IRC and e-mail")]
struct Cli {
    /// The config file.
    #[arg(long, short, default_value = "ferry.toml")]
    config: PathBuf,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway (the default).
    Run,
    /// Validate the config and exit.
    CheckConfig,
    /// Apply store migrations and exit.
    Migrate,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    // One crypto provider for every rustls user (sqlx's PostgreSQL TLS
    // among them): with none installed rustls cannot choose and panics.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let result = (|| -> anyhow::Result<()> {
        let (config, bridges) = ferry::load(&cli.config)?;
        let runtime = tokio::runtime::Runtime::new()?;
        match cli.command.unwrap_or(Command::Run) {
            Command::CheckConfig => {
                println!("{}: ok ({} bridges)", cli.config.display(), bridges.len());
                Ok(())
            }
            Command::Migrate => runtime.block_on(async {
                ferry::migrate(&config).await?;
                println!("migrations applied");
                Ok(())
            }),
            Command::Run => runtime.block_on(ferry::run(config, bridges)),
        }
    })();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ferry: {e:#}");
            ExitCode::FAILURE
        }
    }
}
