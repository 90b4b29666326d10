//! `fleetpane --config PATH` (or `FLEETPANE_CONFIG=PATH fleetpane`): load the config, build the state, serve.
//! A config with problems prints one line per problem on stderr and exits with status 2.

use std::process::ExitCode;

use fleetpane_server::{Config, config::CONFIG_ENV, serve};

const USAGE: &str = "usage: fleetpane --config PATH   (or set FLEETPANE_CONFIG=PATH)";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        eprintln!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let config = match Config::path_from(&args, std::env::var(CONFIG_ENV).ok()).and_then(|p| Config::load(&p))
    {
        Ok(config) => config,
        Err(error) => {
            for line in error.lines() {
                eprintln!("{line}");
            }
            return ExitCode::from(2);
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,tower_http=warn,kube_client=warn".into()),
        )
        .init();

    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            let mut message = error.to_string();
            let mut source = std::error::Error::source(&error);
            while let Some(cause) = source {
                message.push_str(&format!(": {cause}"));
                source = cause.source();
            }
            tracing::error!("{message}");
            eprintln!("fleetpane: {message}");
            ExitCode::FAILURE
        }
    }
}
