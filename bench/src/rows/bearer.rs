//! P1 (sequential calls) and P2 (64 concurrent callers) on a reusable
//! Bearer token, with the server's own ceiling measured in the same rounds.

use std::sync::Arc;

use crate::sdk_tests::bearer_api::BearerApiClient;
use seamless_sdk_testkit::{BEARER_PASSWORD, BEARER_USERNAME};

use super::{Sizes, side};
use crate::lean::Lean;
use crate::measure::{Sample, fan_out, interleave, med, paired_spread};
use crate::raw::RawBearer;
use crate::report::{Report, Target, num};
use crate::server::Server;

pub(crate) async fn p1_p2(s: &Sizes, o: &crate::Options, report: &mut Report) {
    let server = Arc::new(Server::start("bearer").await);
    // The typed client `seamless generate` wrote for specs/bearer_api.yaml.
    let typed = Arc::new(
        BearerApiClient::new(server.url(), BEARER_USERNAME, BEARER_PASSWORD).expect("the generated client"),
    );
    typed.get_user(0).await.expect("the first typed call logs in");
    let raw = Arc::new(RawBearer::login(server.url()).await);
    raw.get_user(0).await.expect("the first raw call");
    server.reset().await;

    if o.wants("P1") {
        let calls = s.p1_calls;
        let sides = [
            side("seamless", &server, &typed, move |c| async move {
                for i in 0..calls {
                    c.get_user(i).await.expect("P1: a seamless call failed");
                }
                calls
            }),
            side("raw", &server, &raw, move |c| async move {
                for i in 0..calls {
                    c.get_user(i).await.expect("P1: a raw call failed");
                }
                calls
            }),
        ];
        let r = interleave(s.warmup, s.rounds, &sides).await;
        let (a, b) = (&r[0], &r[1]);
        // One more round per side, untimed, with the allocator counting.
        let mut counted = Vec::new();
        for side in &sides {
            crate::alloc::count(true);
            let sample = (side.round)().await;
            crate::alloc::count(false);
            counted.push(sample.allocs_per_op());
        }
        report.compare(
            "P1",
            format!("sequential `get_user`, {calls} calls: µs per call (wall)"),
            med(a, Sample::us_per_op),
            med(b, Sample::us_per_op),
            Target::AtMost(1.02),
            Some(paired_spread(a, b, Sample::us_per_op)),
        );
        report.compare(
            "P1",
            "client CPU µs per call",
            med(a, Sample::client_cpu_us),
            med(b, Sample::client_cpu_us),
            Target::None,
            Some(paired_spread(a, b, Sample::client_cpu_us)),
        );
        report.compare(
            "P1",
            "heap allocations per call (exact, counted in one extra round)",
            counted[0],
            counted[1],
            Target::None,
            None,
        );
        report.compare(
            "P1",
            "server CPU µs per call (same requests, so ≈ 1)",
            med(a, Sample::server_cpu_us),
            med(b, Sample::server_cpu_us),
            Target::None,
            None,
        );
    }

    if o.wants("P2") {
        let (callers, per) = (s.p2_callers, s.p2_calls_per_caller);
        let total = (callers * per) as u64;
        let lean = Arc::new(
            Lean::connect(
                server.addr(),
                callers,
                "/api/users/7",
                raw.auth.to_str().expect("an ASCII header"),
            )
            .await
            .expect("the lean client's connections"),
        );
        let sides = [
            side("seamless", &server, &typed, move |c| async move {
                let failed = fan_out(&c, callers, per, |c, i| async move { c.get_user(i).await }).await;
                assert_eq!(failed, 0, "P2: seamless calls failed");
                total
            }),
            side("raw", &server, &raw, move |c| async move {
                let failed = fan_out(&c, callers, per, |c, i| async move { c.get_user(i).await }).await;
                assert_eq!(failed, 0, "P2: raw calls failed");
                total
            }),
            side("lean", &server, &lean, move |c| async move { c.round(per).await }),
        ];
        let r = interleave(s.warmup, s.rounds, &sides).await;
        let (a, b, c) = (&r[0], &r[1], &r[2]);
        report.compare(
            "P2",
            format!("{callers} concurrent callers, {total} calls: calls/s"),
            med(a, Sample::per_sec),
            med(b, Sample::per_sec),
            Target::AtLeast(0.98),
            Some(paired_spread(a, b, Sample::per_sec)),
        );
        report.compare(
            "P2",
            "client CPU µs per call",
            med(a, Sample::client_cpu_us),
            med(b, Sample::client_cpu_us),
            Target::None,
            Some(paired_spread(a, b, Sample::client_cpu_us)),
        );
        let ceiling = med(c, Sample::per_sec);
        report.value(
            "P2",
            format!("server ceiling: lean HTTP/1.1 client, {callers} keep-alive connections, requests/s"),
            ceiling,
            Target::None,
            "",
        );
        let busy = |x: &[Sample]| med(x, |s| s.server_cpu.as_secs_f64() / s.wall.as_secs_f64());
        report.text(
            "P2",
            "share of the server ceiling used; server busy (cores)",
            format!(
                "{:.0} %; {}",
                100.0 * med(a, Sample::per_sec) / ceiling,
                num(busy(a))
            ),
            format!(
                "{:.0} %; {} (lean: {})",
                100.0 * med(b, Sample::per_sec) / ceiling,
                num(busy(b)),
                num(busy(c))
            ),
        );
        let all_ok = c.iter().all(|x| x.ops == total);
        report.fact("P2 server ceiling: every lean request answered 200", all_ok);
    }

    let n = server.counts().await;
    report.fact(
        format!(
            "P1/P2: no login and no expired reply while timing ({} logins, {} expired)",
            n.sessions(),
            n.expired_replies
        ),
        n.sessions() == 0 && n.expired_replies == 0,
    );
}
