//! The `compare` benchmark: generated seamless clients side by side with raw
//! reqwest doing the same requests, on the same loopback testkit server, in
//! one process, interleaved round by round so drift hits both sides alike.
//!
//! ```text
//! cargo bench -p seamless-bench --bench compare               # the full run, a table at the end
//! cargo bench -p seamless-bench --bench compare -- --quick    # every row, tiny sizes, facts checked
//! cargo bench -p seamless-bench --bench compare -- --rows P1,P6
//! ```
//!
//! The rows P1–P6 are the ones issue 6 asks for, P7 the shared Redis
//! store's, P8 the response cache's and the retry layer's; `bench/README.md`
//! shows a run and how to read it. Timings are reported, never asserted; the facts
//! (one login per storm, no failed call, no token reuse, …) are checked in
//! every mode and make the program exit 1 when one does not hold.
//!
//! The testkit server runs in a child process (this same binary with
//! `--serve PROTOCOL`, driven over its stdin/stdout): 10,000 connections
//! in flight need 10,000 descriptors at each end, more than one process may
//! open here, and a separate process lets the table split CPU time between
//! client and server exactly (from `/proc`).
//!
//! This library exists only for that benchmark: it installs a counting
//! global allocator (`alloc.rs`, off except while a row reads it).

mod alloc;
mod cpu;
mod fleet;
mod generator;
mod lean;
mod measure;
mod raw;
mod redis;
mod report;
mod rows;
mod server;

/// The generated SDKs the rows call: `sdk-tests`' committed snapshots,
/// through symlinks in `src/snapshots/` rather than a dependency on that
/// unpublished crate, which `cargo package --workspace` could not resolve.
#[path = "snapshots"]
#[allow(dead_code, unreachable_pub)]
mod sdk_tests {
    #[rustfmt::skip]
    pub mod bearer_api;
    #[rustfmt::skip]
    pub mod imi_mini;
}

use std::process::ExitCode;

#[global_allocator]
static GLOBAL: alloc::Counting = alloc::Counting;

use alloc::{allocations, live_bytes};

/// Sizes and round counts for one run.
struct Options {
    quick: bool,
    rows: Option<Vec<String>>,
}

impl Options {
    fn parse(args: &[String]) -> Options {
        let mut o = Options {
            quick: false,
            rows: None,
        };
        let mut it = args.iter();
        while let Some(a) = it.next() {
            match a.as_str() {
                "--quick" => o.quick = true,
                "--rows" => {
                    o.rows = it
                        .next()
                        .map(|r| r.split(',').map(|s| s.trim().to_ascii_uppercase()).collect());
                }
                // `cargo bench` passes `--bench`; a filter word may follow. Ignore the rest.
                _ => {}
            }
        }
        o
    }

    fn wants(&self, row: &str) -> bool {
        self.rows.as_ref().is_none_or(|r| r.iter().any(|x| x == row))
    }
}

/// The benchmark's `main`: `--serve PROTOCOL` runs the server child,
/// `--fleet-worker …` a client process of P7's fleet, anything else the
/// comparison.
pub fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(i) = args.iter().position(|a| a == "--serve") {
        return server::serve(args.get(i + 1).map(String::as_str).unwrap_or(""));
    }
    if let Some(i) = args.iter().position(|a| a == "--fleet-worker") {
        return fleet::work(&args[i + 1..]);
    }
    let options = Options::parse(&args);
    let started = std::time::Instant::now();
    let mut report = report::Report::new(options.quick);
    rows::run(&options, &mut report);
    report.print(started.elapsed())
}
