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
use seamless_sdk_mock::seamless_sdk_testkit::{Backend, StatusCode};
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
    /// Answer the next N token-checked requests with `--fail-status` (not executed;
    /// a single-use token's successor is still sent), a transient failure to retry.
    #[arg(long, value_name = "N")]
    fail_next: Option<u32>,
    /// The status of `--fail-next` replies.
    #[arg(long, value_name = "STATUS", default_value_t = 503,
          value_parser = clap::value_parser!(u16).range(400..=599), requires = "fail_next")]
    fail_status: u16,
    /// Send `Retry-After: SECS` with the `--fail-next` replies.
    #[arg(long, value_name = "SECS", requires = "fail_next")]
    retry_after: Option<u64>,
    /// Execute the next N token-checked requests, then drop the connection unanswered.
    #[arg(long, value_name = "N")]
    drop_next: Option<u32>,
    /// Execute the next N token-checked requests, then never answer (the connection
    /// stays open until the client gives up).
    #[arg(long, value_name = "N")]
    stall_next: Option<u32>,
    /// Execute the next N token-checked requests, then answer with a redirect to
    /// `--redirect-to`.
    #[arg(long, value_name = "N", requires = "redirect_to")]
    redirect_next: Option<u32>,
    /// Where `--redirect-next` replies point (a path here, or another host's URL).
    #[arg(long, value_name = "URL", requires = "redirect_next")]
    redirect_to: Option<String>,
    /// The status of `--redirect-next` replies.
    #[arg(long, value_name = "STATUS", default_value_t = 302,
          value_parser = clap::value_parser!(u16).range(300..=399), requires = "redirect_next")]
    redirect_status: u16,
    /// Delay every token-checked reply by T milliseconds (after the token is taken).
    #[arg(long, value_name = "T")]
    delay_responses_ms: Option<u64>,
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
    faults(&mock.backend, args)?;
    let stop = stop_signal()?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "seamless mock: listening on {}", mock.url)
            .and_then(|()| out.flush())
            .map_err(|e| format!("cannot write to stdout: {e}"))?;
    }
    eprint!("{}", mock.summary);
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
    eprintln!(
        "seamless mock: {signal}, stopping; {}",
        counters_line(&mock.backend.counters())
    );
    drop(mock);
    Ok(ExitCode::SUCCESS)
}

/// The per-request faults, set before the first request (the same knobs as
/// `POST /__admin/knobs`).
fn faults(backend: &Backend, args: &MockArgs) -> Result<(), String> {
    let status = |code: u16| StatusCode::from_u16(code).map_err(|e| format!("bad status {code}: {e}"));
    if let Some(n) = args.fail_next {
        let retry_after = args.retry_after.map(|s| s.to_string());
        let headers: Vec<(&str, &str)> = retry_after.iter().map(|s| ("Retry-After", s.as_str())).collect();
        backend.fail_next(n, status(args.fail_status)?, &headers);
    }
    if let Some(n) = args.drop_next {
        backend.abort_after_consume(n);
    }
    if let Some(n) = args.stall_next {
        backend.stall_next(n);
    }
    if let (Some(n), Some(location)) = (args.redirect_next, &args.redirect_to) {
        if http_header_value_is_bad(location) {
            return Err(format!("--redirect-to {location:?} is not a header value"));
        }
        backend.redirect_next(n, status(args.redirect_status)?, location.clone());
    }
    if let Some(ms) = args.delay_responses_ms {
        backend.delay_responses(Duration::from_millis(ms));
    }
    Ok(())
}

/// A `Location` must be visible ASCII; the server would refuse to send anything else.
fn http_header_value_is_bad(s: &str) -> bool {
    s.is_empty() || !s.bytes().all(|b| (0x21..0x7f).contains(&b))
}

/// Watches SIGINT and SIGTERM from now on (so a signal sent as soon as the
/// listening line is read stops the mock cleanly, not by the default action);
/// the future resolves with the first one's name.
fn stop_signal() -> Result<impl std::future::Future<Output = &'static str>, String> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).map_err(|e| format!("cannot watch SIGTERM: {e}"))?;
        let mut int = signal(SignalKind::interrupt()).map_err(|e| format!("cannot watch SIGINT: {e}"))?;
        Ok(async move {
            tokio::select! {
                _ = term.recv() => "SIGTERM",
                _ = int.recv() => "SIGINT",
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            // Without a handler Ctrl-C ends the process anyway.
            let _ = tokio::signal::ctrl_c().await;
            "Ctrl-C"
        })
    }
}
