use super::*;
use std::cell::RefCell;
use std::rc::Rc;

/// A waiter that records what it got; `alive = false` models a caller
/// that went away.
#[derive(Clone)]
struct Probe {
    got: Rc<RefCell<Vec<Delivery<&'static str>>>>,
    alive: bool,
}

impl Waiter<&'static str> for Probe {
    fn deliver(self, value: Delivery<&'static str>) -> Result<(), Delivery<&'static str>> {
        if self.alive {
            self.got.borrow_mut().push(value);
            Ok(())
        } else {
            Err(value)
        }
    }

    fn is_gone(&self) -> bool {
        !self.alive
    }
}

fn probe() -> Probe {
    Probe {
        got: Rc::default(),
        alive: true,
    }
}

/// A chain with the cool-down off, as most tests want.
fn chain(mode: Mode) -> Chain<Probe, &'static str> {
    cooling(mode, Duration::ZERO, Duration::ZERO)
}

/// A chain holding the token `t` (resumed from a store: generation 1).
fn resumed(mode: Mode, t: &str) -> Chain<Probe, &'static str> {
    let mut c = chain(mode);
    c.resume(Some((Secret::new(t), None, None)), None);
    c
}

/// A single-use chain whose token "a" is out with a holder.
fn held() -> (Chain<Probe, &'static str>, Instant, Grant) {
    let mut c = resumed(Mode::SingleUse, "a");
    let now = Instant::now();
    let g = granted(c.acquire(now, probe));
    (c, now, g)
}

/// A chain whose failed logins cool down from `initial` doubling to `max`.
fn cooling(mode: Mode, initial: Duration, max: Duration) -> Chain<Probe, &'static str> {
    Chain::new(mode, Backoff { initial, max })
}

fn fresh(t: &str) -> Fresh {
    Fresh {
        token: Secret::new(t),
        expires_at: None,
        valid_until: None,
        refresh: None,
    }
}

fn granted(a: Acquire<&'static str>) -> Grant {
    match a {
        Acquire::Granted(g) => g,
        other => panic!("expected a grant, got {other:?}"),
    }
}

#[test]
fn concurrent_first_calls_start_one_login() {
    let mut c = chain(Mode::Reusable);
    let now = Instant::now();
    let p = probe();
    assert!(matches!(
        c.acquire(now, || p.clone()),
        Acquire::ParkedStartLogin(_)
    ));
    for _ in 0..9 {
        assert!(matches!(c.acquire(now, || p.clone()), Acquire::Parked));
    }
    c.login_done(Ok(fresh("a")), now);
    let got = p.got.borrow();
    assert_eq!(got.len(), 10);
    assert!(got.iter().all(|d| d.as_ref().unwrap().token.expose() == "a"));
}

#[test]
fn stale_expiry_causes_no_login() {
    let mut c = resumed(Mode::Reusable, "a");
    let now = Instant::now();
    let g1 = granted(c.acquire(now, probe));
    assert_eq!(c.report_expired(g1.generation), Expired::Current);
    let p = probe();
    assert!(matches!(
        c.acquire(now, || p.clone()),
        Acquire::ParkedStartLogin(_)
    ));
    c.login_done(Ok(fresh("b")), now);
    // A second failure for generation 1 arrives late.
    assert_eq!(c.report_expired(g1.generation), Expired::Stale);
    assert_eq!(granted(c.acquire(now, probe)).token.expose(), "b");
}

#[test]
fn a_refusal_while_an_early_renewal_runs_is_stale_and_parks_the_next_caller() {
    let mut c = chain(Mode::Reusable);
    let t0 = Instant::now();
    let s = Duration::from_secs;
    c.resume(Some((Secret::new("a"), Some(t0 + s(5)), Some(t0 + s(10)))), None);
    let Acquire::GrantedStartLogin(g, _) = c.acquire(t0 + s(6), probe) else {
        panic!("expected the old token and a renewal")
    };
    // The server revoked "a" on refresh before the client installed the new one.
    assert_eq!(c.report_expired(g.generation), Expired::Stale);
    assert_eq!(c.report_expired(g.generation), Expired::Stale);
    // Refused, so no longer granted: callers wait for the renewal.
    let p = probe();
    assert!(matches!(c.acquire(t0 + s(6), || p.clone()), Acquire::Parked));
    c.login_done(Ok(fresh("b")), t0 + s(6));
    assert_eq!(p.got.borrow()[0].as_ref().unwrap().token.expose(), "b");
    // A refusal of the new token with no renewal running is current.
    assert_eq!(c.report_expired(g.generation + 1), Expired::Current);
}

#[test]
fn exclusive_a_refusal_while_the_chains_own_login_runs_is_stale() {
    let now = Instant::now();
    for exclusive in [false, true] {
        let mut c = chain(Mode::Reusable);
        c.set_exclusive(exclusive);
        c.resume(Some((Secret::new("a"), None, None)), None);
        let g = granted(c.acquire(now, probe));
        assert_eq!(c.report_expired(g.generation), Expired::Current);
        assert!(matches!(c.acquire(now, probe), Acquire::ParkedStartLogin(_)));
        // Another request sent with "a" is refused while the login runs.
        let want = if exclusive {
            Expired::Stale
        } else {
            Expired::Current
        };
        assert_eq!(c.report_expired(g.generation), want, "exclusive: {exclusive}");
    }
}

#[test]
fn single_use_hands_the_token_to_one_holder_at_a_time() {
    let (mut c, now, g) = held();
    let second = probe();
    assert!(matches!(c.acquire(now, || second.clone()), Acquire::Parked));
    assert!(second.got.borrow().is_empty());
    assert!(c.release(g.generation, Some(fresh("b"))).is_none());
    let got = second.got.borrow();
    assert_eq!(got[0].as_ref().unwrap().token.expose(), "b");
}

#[test]
fn spent_token_with_waiters_starts_exactly_one_login() {
    let (mut c, now, g) = held();
    let p = probe();
    let _ = c.acquire(now, || p.clone());
    assert!(c.release(g.generation, None).is_some());
    // The failed holder comes back to replay: it parks behind the login.
    assert!(matches!(c.acquire(now, || p.clone()), Acquire::Parked));
}

#[test]
fn login_failure_reaches_every_waiter_and_is_not_sticky() {
    let mut c = chain(Mode::SingleUse);
    let now = Instant::now();
    let p = probe();
    let _ = c.acquire(now, || p.clone());
    let _ = c.acquire(now, || p.clone());
    c.login_done(Err("denied"), now);
    assert!(p.got.borrow().iter().all(|d| d.as_ref().err() == Some(&"denied")));
    assert_eq!(p.got.borrow().len(), 2);
    assert!(matches!(c.acquire(now, probe), Acquire::ParkedStartLogin(_)));
}

#[test]
fn token_of_a_departed_waiter_goes_to_the_next() {
    let mut c = chain(Mode::SingleUse);
    let now = Instant::now();
    let gone = Probe {
        alive: false,
        ..probe()
    };
    let live = probe();
    let _ = c.acquire(now, || gone.clone());
    let _ = c.acquire(now, || live.clone());
    c.login_done(Ok(fresh("a")), now);
    assert_eq!(live.got.borrow().len(), 1);
    let g = live.got.borrow()[0].clone().unwrap();
    // The live holder leaves before sending: the token is still good.
    c.give_back(g);
    assert_eq!(granted(c.acquire(now, probe)).token.expose(), "a");
}

#[test]
fn departed_waiters_are_forgotten_and_the_token_goes_to_a_live_one() {
    let (mut c, now, g) = held();
    let gone = Probe {
        alive: false,
        ..probe()
    };
    for _ in 0..100 {
        assert!(matches!(c.acquire(now, || gone.clone()), Acquire::Parked));
    }
    let live = probe();
    assert!(matches!(c.acquire(now, || live.clone()), Acquire::Parked));
    c.forget_departed();
    assert_eq!(c.waiters(), 1);
    assert!(c.release(g.generation, Some(fresh("b"))).is_none());
    assert_eq!(live.got.borrow()[0].as_ref().unwrap().token.expose(), "b");
}

#[test]
fn known_expiry_renews_before_sending() {
    let mut c = chain(Mode::Reusable);
    let now = Instant::now();
    c.resume(Some((Secret::new("a"), Some(now), Some(now))), None);
    assert!(matches!(c.acquire(now, probe), Acquire::ParkedStartLogin(_)));
}

#[test]
fn a_reusable_token_due_for_renewal_serves_until_it_expires_even_if_the_renewal_fails() {
    let mut c = cooling(Mode::Reusable, Duration::from_secs(5), Duration::from_secs(5));
    let t0 = Instant::now();
    let s = Duration::from_secs;
    // Renew at t0 + 10 s; valid until t0 + 20 s.
    c.resume(Some((Secret::new("a"), Some(t0 + s(10)), Some(t0 + s(20)))), None);
    let Acquire::GrantedStartLogin(g, _) = c.acquire(t0 + s(11), probe) else {
        panic!("expected the old token and a renewal")
    };
    assert_eq!(g.token.expose(), "a");
    // While the renewal runs, callers keep the old token; no second login.
    assert_eq!(granted(c.acquire(t0 + s(12), probe)).token.expose(), "a");
    c.login_done(Err("down"), t0 + s(12));
    // The renewal failed: still served through the cool-down.
    assert_eq!(granted(c.acquire(t0 + s(13), probe)).token.expose(), "a");
    // Past the cool-down, the next call tries again, still served.
    assert!(matches!(
        c.acquire(t0 + s(18), probe),
        Acquire::GrantedStartLogin(..)
    ));
    c.login_done(Err("down"), t0 + s(18));
    // Really expired, in the cool-down: the login's error, no token.
    assert!(matches!(
        c.acquire(t0 + s(21), probe),
        Acquire::CoolingDown("down")
    ));
    // A single-use token gets no such grace: renewed before sending.
    let mut c = chain(Mode::SingleUse);
    c.resume(Some((Secret::new("a"), Some(t0), Some(t0 + s(20)))), None);
    assert!(matches!(
        c.acquire(t0 + s(1), probe),
        Acquire::ParkedStartLogin(_)
    ));
}

#[test]
fn a_cooling_chain_without_a_token_fails_fast_and_only_then() {
    let mut c = cooling(Mode::SingleUse, Duration::from_secs(1), Duration::from_secs(1));
    let t0 = Instant::now();
    assert!(!c.fails_fast(t0));
    let _ = c.acquire(t0, probe);
    assert!(!c.fails_fast(t0), "logging in: a caller parks");
    c.login_done(Err("down"), t0);
    assert!(c.fails_fast(t0));
    assert!(matches!(c.acquire(t0, probe), Acquire::CoolingDown(_)));
    let later = t0 + Duration::from_secs(1);
    assert!(!c.fails_fast(later));
    assert!(matches!(c.acquire(later, probe), Acquire::ParkedStartLogin(_)));
}

#[test]
fn refresh_token_is_taken_once() {
    let mut c = chain(Mode::Reusable);
    let now = Instant::now();
    c.resume(Some((Secret::new("a"), None, None)), Some(Secret::new("r1")));
    let g = granted(c.acquire(now, probe));
    c.report_expired(g.generation);
    let Acquire::ParkedStartLogin(start) = c.acquire(now, probe) else {
        panic!("expected a login")
    };
    assert_eq!(start.refresh.as_ref().map(Secret::expose), Some("r1"));
    c.login_done(Err("refused"), now);
    let Acquire::ParkedStartLogin(again) = c.acquire(now, probe) else {
        panic!("expected a login")
    };
    assert!(again.refresh.is_none(), "a spent refresh token was offered again");
}

#[test]
fn failed_login_cools_down_doubling_then_recovers() {
    let mut c = cooling(
        Mode::Reusable,
        Duration::from_millis(100),
        Duration::from_millis(250),
    );
    let t0 = Instant::now();
    let ms = |n| Duration::from_millis(n);
    assert!(matches!(c.acquire(t0, probe), Acquire::ParkedStartLogin(_)));
    c.login_done(Err("down"), t0);
    // Inside the cool-down every caller gets the same error, no login.
    assert!(matches!(
        c.acquire(t0 + ms(99), probe),
        Acquire::CoolingDown("down")
    ));
    assert_eq!(c.status(t0).failures, 1);
    assert!(matches!(
        c.acquire(t0 + ms(100), probe),
        Acquire::ParkedStartLogin(_)
    ));
    c.login_done(Err("down"), t0 + ms(100));
    // Second failure in a row: 200 ms.
    assert!(matches!(c.acquire(t0 + ms(299), probe), Acquire::CoolingDown(_)));
    assert!(matches!(
        c.acquire(t0 + ms(300), probe),
        Acquire::ParkedStartLogin(_)
    ));
    c.login_done(Err("down"), t0 + ms(300));
    // Third: 400 ms, capped at 250 ms.
    assert_eq!(c.status(t0 + ms(300)).blocked_for, Some(ms(250)));
    assert!(matches!(
        c.acquire(t0 + ms(550), probe),
        Acquire::ParkedStartLogin(_)
    ));
    c.login_done(Ok(fresh("a")), t0 + ms(550));
    let s = c.status(t0 + ms(550));
    assert_eq!((s.failures, s.blocked_for, s.last_error), (0, None, None));
    assert_eq!(granted(c.acquire(t0 + ms(550), probe)).token.expose(), "a");
}
