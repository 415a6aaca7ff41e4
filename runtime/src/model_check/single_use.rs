//! Single-use chains: rotation, spent tokens, failed logins, cool-downs.

use super::Act::{Spend, Use};
use super::Setup::{CoolDown, Failing, Refresh, Resumed, Stale};
use super::check;
use crate::core::Mode::SingleUse;

#[test]
fn single_use_rotation_has_one_holder_and_sends_each_token_once() {
    check(SingleUse, &[&[Use, Use], &[Use]], 0..=0, &[Resumed]);
}

#[test]
fn single_use_rotation_three_callers() {
    check(SingleUse, &[&[Use], &[Use], &[Use]], 0..=0, &[Resumed]);
}

#[test]
fn single_use_spent_token_recovers_with_one_login_and_one_refresh() {
    check(SingleUse, &[&[Spend, Use], &[Use]], 1..=1, &[Resumed, Refresh]);
}

#[test]
fn single_use_two_spent_tokens_three_callers() {
    check(SingleUse, &[&[Spend], &[Spend], &[Use]], 1..=2, &[Resumed]);
}

#[test]
fn single_use_failed_login_reaches_every_waiter_and_is_not_sticky() {
    check(SingleUse, &[&[Use], &[Use, Use]], 1..=2, &[Failing(&[0])]);
}

#[test]
fn single_use_cool_down_starts_no_second_login() {
    let setup = [Failing(&[0]), CoolDown];
    check(SingleUse, &[&[Use], &[Use, Use]], 1..=1, &setup);
}

#[test]
fn single_use_token_past_its_lifetime_is_renewed_once_before_sending() {
    check(SingleUse, &[&[Use], &[Use]], 1..=1, &[Stale, Refresh]);
}
