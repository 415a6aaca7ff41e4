//! Collects the rows and the checked facts, and prints them as a Markdown
//! table (pasted as is into `bench/README.md`).

use std::process::ExitCode;
use std::time::Duration;

/// A target a figure is judged against.
#[derive(Clone, Copy)]
pub(crate) enum Target {
    AtMost(f64),
    AtLeast(f64),
    None,
}

impl Target {
    fn show(self, unit: &str) -> String {
        match self {
            Target::AtMost(x) => format!("≤ {}{unit}", trim(x)),
            Target::AtLeast(x) => format!("≥ {}{unit}", trim(x)),
            Target::None => String::new(),
        }
    }

    fn met(self, x: f64) -> Option<bool> {
        match self {
            Target::AtMost(t) => Some(x <= t),
            Target::AtLeast(t) => Some(x >= t),
            Target::None => None,
        }
    }
}

fn trim(x: f64) -> String {
    let s = format!("{x:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

struct Line {
    row: &'static str,
    what: String,
    ours: String,
    theirs: String,
    ratio: String,
    target: String,
    met: String,
    spread: String,
}

pub(crate) struct Report {
    quick: bool,
    lines: Vec<Line>,
    facts: Vec<(String, bool)>,
    notes: Vec<String>,
    load_at_start: String,
}

/// A figure with sensible precision for a table.
pub(crate) fn num(x: f64) -> String {
    if !x.is_finite() {
        "n/a".to_owned()
    } else if x.abs() >= 1000.0 {
        format!("{x:.0}")
    } else if x.abs() >= 100.0 {
        format!("{x:.1}")
    } else if x.abs() >= 1.0 {
        format!("{x:.2}")
    } else {
        format!("{x:.3}")
    }
}

impl Report {
    pub fn new(quick: bool) -> Report {
        Report {
            quick,
            lines: Vec::new(),
            facts: Vec::new(),
            notes: Vec::new(),
            load_at_start: loadavg(),
        }
    }

    pub fn quick(&self) -> bool {
        self.quick
    }

    /// A seamless-vs-raw line: the two medians, their ratio judged against
    /// `target`, and the paired per-round ratio spread.
    pub fn compare(
        &mut self,
        row: &'static str,
        what: impl Into<String>,
        ours: f64,
        theirs: f64,
        target: Target,
        spread: Option<(f64, f64, f64)>,
    ) {
        self.compare_with(row, what, ours, theirs, ours / theirs, target, spread);
    }

    /// [`Report::compare`] with a ratio against something other than the
    /// raw column (P4's chains are judged against one raw session).
    #[allow(clippy::too_many_arguments)]
    pub fn compare_with(
        &mut self,
        row: &'static str,
        what: impl Into<String>,
        ours: f64,
        theirs: f64,
        ratio: f64,
        target: Target,
        spread: Option<(f64, f64, f64)>,
    ) {
        let line = Line {
            row,
            what: what.into(),
            ours: num(ours),
            theirs: num(theirs),
            ratio: format!("{ratio:.3}"),
            target: target.show(""),
            met: self.verdict(target, ratio),
            spread: spread.map_or(String::new(), |(mid, lo, hi)| {
                format!("{mid:.3} ({lo:.3}–{hi:.3})")
            }),
        };
        eprintln!(
            "  {row} {}: {} vs {} → {}",
            line.what, line.ours, line.theirs, line.ratio
        );
        self.lines.push(line);
    }

    /// A single figure (no raw side), judged against `target`.
    pub fn value(
        &mut self,
        row: &'static str,
        what: impl Into<String>,
        value: f64,
        target: Target,
        unit: &str,
    ) {
        let line = Line {
            row,
            what: what.into(),
            ours: num(value),
            theirs: String::new(),
            ratio: String::new(),
            target: target.show(unit),
            met: self.verdict(target, value),
            spread: String::new(),
        };
        eprintln!("  {row} {}: {}", line.what, line.ours);
        self.lines.push(line);
    }

    /// A line of text in the seamless and raw columns (counts, notes).
    pub fn text(
        &mut self,
        row: &'static str,
        what: impl Into<String>,
        ours: impl Into<String>,
        theirs: impl Into<String>,
    ) {
        let line = Line {
            row,
            what: what.into(),
            ours: ours.into(),
            theirs: theirs.into(),
            ratio: String::new(),
            target: String::new(),
            met: String::new(),
            spread: String::new(),
        };
        eprintln!("  {row} {}: {} | {}", line.what, line.ours, line.theirs);
        self.lines.push(line);
    }

    /// A fact that must hold in every mode (a count, not a time).
    pub fn fact(&mut self, what: impl Into<String>, ok: bool) {
        let what = what.into();
        eprintln!("  fact {}: {what}", if ok { "ok" } else { "FAILED" });
        self.facts.push((what, ok));
    }

    pub fn note(&mut self, note: impl Into<String>) {
        self.notes.push(note.into());
    }

    fn verdict(&self, target: Target, x: f64) -> String {
        match target.met(x) {
            // Quick mode's sizes are too small for timings to mean anything.
            Some(_) if self.quick => "—".to_owned(),
            Some(true) => "yes".to_owned(),
            Some(false) => "**no**".to_owned(),
            None => String::new(),
        }
    }

    /// Prints the table, the notes and the facts; exit 1 if a fact failed.
    pub fn print(&self, elapsed: Duration) -> ExitCode {
        println!();
        if self.quick {
            println!(
                "QUICK MODE: tiny sizes; timings below are not meaningful, only the facts are checked.\n"
            );
        }
        println!(
            "| row | measure | seamless | raw reqwest | ratio | target | met | per-round ratio: median (p25–p75) |"
        );
        println!("|---|---|--:|--:|--:|---|---|---|");
        for l in &self.lines {
            println!(
                "| {} | {} | {} | {} | {} | {} | {} | {} |",
                l.row, l.what, l.ours, l.theirs, l.ratio, l.target, l.met, l.spread
            );
        }
        println!();
        println!("{}", machine());
        println!(
            "Load average at start: {}; at end: {}. Whole run: {:.1} s.",
            self.load_at_start,
            loadavg(),
            elapsed.as_secs_f64()
        );
        for n in &self.notes {
            println!("- {n}");
        }
        println!();
        let failed: Vec<_> = self.facts.iter().filter(|(_, ok)| !ok).collect();
        for (what, _) in &failed {
            println!("FAILED: {what}");
        }
        println!(
            "facts: {} passed, {} failed",
            self.facts.len() - failed.len(),
            failed.len()
        );
        if failed.is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        }
    }
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "n/a".to_owned())
}

fn machine() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    format!("Machine: {cpus} CPUs ({model}); server in a child process, clients on a 2-worker tokio runtime.")
}
