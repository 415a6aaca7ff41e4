//! `seamless mock SPEC`: the spec served on loopback by `seamless-sdk-mock`
//! until SIGINT or SIGTERM, with its counters on stderr.
//!
//! stdout carries exactly one line, `seamless mock: listening on URL`, so a
//! script can wait for it and read the port; everything else goes to stderr.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use seamless_sdk_codegen::model::Api;
use seamless_sdk_mock::{MockOptions, counters_line};

/// The options of `seamless mock`.
#[derive(clap::Args)]
pub struct MockArgs {
    /// The YAML spec, or an OpenAPI 3.0/3.1 description (JSON or YAML).
    pub spec: PathBuf,
    /// For an OpenAPI description: the seamless `auth` section (see `generate`).
    #[arg(long, value_name = "FILE")]
    pub overlay: Option<PathBuf>,
    /// The port on 127.0.0.1; 0 picks a free one.
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Picks the example values; the same seed answers the same values.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// A value the login's secret field NAME must hold (repeatable); a secret not
    /// given accepts any non-empty value. `client_id` and `client_secret` set an
    /// HTTP Basic token endpoint's client credentials.
    #[arg(long = "secret", value_name = "NAME=VALUE", value_parser = secret)]
    secrets: Vec<(String, String)>,
    /// Access-token lifetime in milliseconds (default: 7200 s when the login
    /// reports `expires_in`, else until a fault expires it).
    #[arg(long, value_name = "T")]
    token_ttl_ms: Option<u64>,
    /// Expire every token after every N token-checked requests.
    #[arg(long, value_name = "N")]
    expire_every: Option<u64>,
    /// Expire every token every T milliseconds.
    #[arg(long, value_name = "T")]
    expire_every_ms: Option<u64>,
    /// Delay every login and refresh by T milliseconds.
    #[arg(long, value_name = "T")]
    delay_logins_ms: Option<u64>,
    /// Fail the next N logins.
    #[arg(long, value_name = "N")]
    fail_logins: Option<u32>,
    /// Print a counters line on stderr every T milliseconds (0: never).
    #[arg(long, value_name = "T", default_value_t = 5000)]
    stats_every_ms: u64,
}

fn secret(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((name, value)) if !name.is_empty() => Ok((name.to_owned(), value.to_owned())),
        _ => Err("expected NAME=VALUE".to_owned()),
    }
}

/// Serves `api` until a signal; the spec has been loaded and checked.
pub fn run(api: &Api, args: &MockArgs) -> Result<ExitCode, String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    runtime.block_on(serve(api, args))
}

async fn serve(api: &Api, args: &MockArgs) -> Result<ExitCode, String> {
    let opts = MockOptions {
        seed: args.seed,
        secrets: args.secrets.iter().cloned().collect::<BTreeMap<_, _>>(),
        token_ttl: args.token_ttl_ms.map(Duration::from_millis),
        port: args.port,
        expire_every_requests: args.expire_every,
        expire_every_ms: args.expire_every_ms,
        delay_logins_ms: args.delay_logins_ms,
        fail_logins: args.fail_logins,
    };
    let mock = seamless_sdk_mock::start(api, &opts)
        .await
        .map_err(|e| e.to_string())?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "seamless mock: listening on {}", mock.url)
            .and_then(|()| out.flush())
            .map_err(|e| format!("cannot write to stdout: {e}"))?;
    }
    eprint!("{}", mock.summary);
    let stop = stop_signal();
    tokio::pin!(stop);
    let every = Duration::from_millis(args.stats_every_ms.max(1));
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    let signal = loop {
        tokio::select! {
            signal = &mut stop => break signal,
            _ = tick.tick(), if args.stats_every_ms > 0 => {
                eprintln!("seamless mock: {}", counters_line(&mock.backend.counters()));
            }
        }
    };
    let signal = signal?;
    eprintln!(
        "seamless mock: {signal}, stopping; {}",
        counters_line(&mock.backend.counters())
    );
    drop(mock);
    Ok(ExitCode::SUCCESS)
}

/// Resolves with the name of the first SIGINT or SIGTERM.
async fn stop_signal() -> Result<&'static str, String> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).map_err(|e| format!("cannot watch SIGTERM: {e}"))?;
        let mut int = signal(SignalKind::interrupt()).map_err(|e| format!("cannot watch SIGINT: {e}"))?;
        tokio::select! {
            _ = term.recv() => Ok("SIGTERM"),
            _ = int.recv() => Ok("SIGINT"),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c()
            .await
            .map_err(|e| format!("cannot watch Ctrl-C: {e}"))?;
        Ok("Ctrl-C")
    }
}
