//! Reusable chains: concurrent expiries, stale reports, failed logins,
//! renewals before and after a token's renewal time.

use super::Act::{Cancel, Use};
use super::Setup::{CoolDown, Due, Failing, Refresh, RejectUpTo, Resumed, Stale};
use super::check;
use crate::core::Mode::Reusable;

#[test]
fn reusable_concurrent_expiry_causes_one_login_and_stale_reports_none() {
    let setup = [Resumed, RejectUpTo(1), Refresh];
    check(Reusable, &[&[Use], &[Use]], 1..=1, &setup);
}

#[test]
fn reusable_concurrent_expiry_three_callers() {
    let setup = [Resumed, RejectUpTo(1)];
    check(Reusable, &[&[Use], &[Use], &[Use]], 1..=1, &setup);
}

#[test]
fn reusable_first_calls_share_one_login() {
    check(Reusable, &[&[Use], &[Use], &[Cancel]], 1..=1, &[]);
}

#[test]
fn reusable_failed_login_reaches_every_waiter_and_is_not_sticky() {
    check(Reusable, &[&[Use], &[Use, Use]], 1..=2, &[Failing(&[0])]);
}

#[test]
fn reusable_expiry_then_failed_login() {
    let setup = [Resumed, RejectUpTo(1), Refresh, Failing(&[0])];
    check(Reusable, &[&[Use], &[Use]], 1..=2, &setup);
}

#[test]
fn reusable_login_token_rejected_too_runs_out_of_replays() {
    check(Reusable, &[&[Use], &[Use]], 1..=2, &[Resumed, RejectUpTo(2)]);
}

#[test]
fn reusable_token_past_its_lifetime_is_renewed_once_before_sending() {
    check(Reusable, &[&[Use], &[Use]], 1..=1, &[Stale]);
}

#[test]
fn reusable_token_due_for_renewal_serves_while_one_renewal_runs() {
    check(Reusable, &[&[Use], &[Use, Use]], 1..=1, &[Due]);
}

#[test]
fn reusable_token_due_for_renewal_outlives_a_failed_renewal() {
    let setup = [Due, Failing(&[0]), CoolDown];
    check(Reusable, &[&[Use], &[Use, Use]], 1..=1, &setup);
}
