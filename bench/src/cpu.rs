//! CPU time of a whole process (every thread), from Linux's `/proc`.
//!
//! `schedstat`'s first field is the nanoseconds a thread has run, far finer
//! than `stat`'s 10 ms ticks; summing it over `task/*` covers threads that
//! come and go between two readings only while they live, which is fine for
//! runtimes whose worker threads live for the whole run.

use std::time::Duration;

/// CPU time used so far by the process `pid`, or by this process for `None`.
/// Zero where `/proc` is not available (the table then shows `n/a`).
pub(crate) fn process(pid: Option<u32>) -> Duration {
    let dir = match pid {
        Some(p) => format!("/proc/{p}/task"),
        None => "/proc/self/task".to_owned(),
    };
    let Ok(tasks) = std::fs::read_dir(dir) else {
        return Duration::ZERO;
    };
    let mut ns = 0u64;
    for task in tasks.flatten() {
        if let Ok(s) = std::fs::read_to_string(task.path().join("schedstat"))
            && let Some(first) = s.split_whitespace().next()
        {
            ns += first.parse::<u64>().unwrap_or(0);
        }
    }
    Duration::from_nanos(ns)
}
