//! P4: single-use tokens (the seed protocol). One chain can carry one call
//! per round trip, so the comparison is against raw reqwest passing the
//! token on by hand, one session, sequentially; `k` chains under 64 callers
//! should scale about k-fold until the CPU is the limit. Run twice: on bare
//! loopback (round trips cost CPU only, so the CPU limit comes at once) and
//! with 1 ms added by the server to every reply, as a network would.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use crate::sdk_tests::imi_mini::ImiMiniClient;
use tokio::sync::Mutex;

use super::{Sizes, side};
use crate::measure::{Sample, fan_out, interleave, med, paired_spread};
use crate::raw::{self, RawSeed};
use crate::report::{Report, Target};
use crate::server::Server;

const CHAINS: [usize; 4] = [1, 2, 4, 8];
const CALLERS: usize = 64;

fn client(server: &Arc<Server>, chains: usize) -> Arc<ImiMiniClient> {
    let codes = Arc::clone(server);
    let builder = ImiMiniClient::builder(server.url(), move || {
        let server = Arc::clone(&codes);
        async move { Ok::<_, Infallible>(server.code().await) }
    });
    Arc::new(ImiMiniClient::from_client(
        builder.chains(chains).build().expect("the generated client"),
    ))
}

pub(crate) async fn p4(s: &Sizes, report: &mut Report) {
    let server = Arc::new(Server::start("seed").await);
    for latency_ms in [0u64, 1] {
        let latency = Duration::from_millis(latency_ms);
        server.delay_responses(latency).await;
        let n = if latency_ms == 0 {
            s.p4_calls
        } else {
            s.p4_latency_calls
        };

        let http = raw::http();
        let mut sessions = Vec::new();
        for _ in 0..CHAINS[CHAINS.len() - 1] {
            let code = server.code().await;
            let session = RawSeed::login(http.clone(), server.url(), code)
                .await
                .expect("a raw seed login");
            sessions.push(Arc::new(Mutex::new(session)));
        }
        let sessions = Arc::new(sessions);

        let sequential = client(&server, 1);
        let mut sides = vec![
            side(
                "seamless, 1 chain, sequential",
                &server,
                &sequential,
                move |c| async move {
                    for i in 0..n {
                        c.get_user(i as u64).await.expect("P4: a seamless call failed");
                    }
                    n as u64
                },
            ),
            side(
                "raw, 1 session, sequential",
                &server,
                &sessions,
                move |ss| async move {
                    let mut session = ss[0].lock().await;
                    for i in 0..n {
                        session.get_user(i as u64).await.expect("P4: a raw call failed");
                    }
                    n as u64
                },
            ),
        ];
        for k in CHAINS {
            let per_caller = (n * k).div_ceil(CALLERS);
            let total = (per_caller * CALLERS) as u64;
            sides.push(side(
                "seamless, k chains",
                &server,
                &client(&server, k),
                move |c| async move {
                    let failed =
                        fan_out(&c, CALLERS, per_caller, |c, i| async move { c.get_user(i).await }).await;
                    assert_eq!(failed, 0, "P4: seamless calls failed");
                    total
                },
            ));
            if k > 1 {
                sides.push(side(
                    "raw, k sessions",
                    &server,
                    &sessions,
                    move |ss| async move {
                        let tasks: Vec<_> = (0..k)
                            .map(|j| {
                                let ss = Arc::clone(&ss);
                                tokio::spawn(async move {
                                    let mut session = ss[j].lock().await;
                                    for i in 0..n {
                                        session.get_user(i as u64).await.expect("P4: a raw call failed");
                                    }
                                })
                            })
                            .collect();
                        for t in tasks {
                            t.await.expect("a raw session task");
                        }
                        (n * k) as u64
                    },
                ));
            }
        }
        server.reset().await;
        let r = interleave(s.warmup, s.rounds.min(9), &sides).await;
        let (seam_seq, raw_seq) = (&r[0], &r[1]);
        let base = med(raw_seq, Sample::per_sec);
        report.compare(
            "P4",
            format!("+{latency_ms} ms: 1 chain vs 1 raw session, sequential, {n} calls: calls/s"),
            med(seam_seq, Sample::per_sec),
            base,
            Target::AtLeast(0.95),
            Some(paired_spread(seam_seq, raw_seq, Sample::per_sec)),
        );
        let mut at = 2;
        for k in CHAINS {
            let ours = &r[at];
            at += 1;
            let theirs = if k > 1 {
                at += 1;
                med(&r[at - 1], Sample::per_sec)
            } else {
                base
            };
            report.compare_with(
                "P4",
                format!("+{latency_ms} ms: k = {k} chains, {CALLERS} callers: calls/s (raw: {k} sessions); ratio vs 1 raw session"),
                med(ours, Sample::per_sec),
                theirs,
                med(ours, Sample::per_sec) / base,
                Target::AtLeast(0.9 * k as f64),
                None,
            );
        }
        let c = server.counts().await;
        report.fact(
            format!(
                "P4 +{latency_ms} ms: no token sent twice, one holder per chain, no expired reply ({} reused, {} max holders, {} expired)",
                c.token_reuse, c.max_concurrent_holders, c.expired_replies
            ),
            c.token_reuse == 0 && c.max_concurrent_holders <= 1 && c.expired_replies == 0,
        );
    }
    server.delay_responses(Duration::ZERO).await;
    report.note(
        "P4's k-chain lines: the raw column is k raw sessions side by side (what the machine allows); \
         the ratio is against one raw session, as the target 0.9·k is.",
    );
}
