//! Cancelled callers, granted or parked, and the broken guards the checker
//! must catch.

use super::Act::{Cancel, Spend, Use};
use super::Setup::{Broken, Resumed};
use super::check;
use crate::core::Mode::SingleUse;
use crate::session::Fault;

#[test]
fn single_use_cancelled_callers_pass_the_token_on() {
    check(SingleUse, &[&[Cancel, Use], &[Use]], 0..=0, &[Resumed]);
}

#[test]
fn single_use_cancelled_waiter_while_the_token_is_spent() {
    check(SingleUse, &[&[Cancel], &[Spend, Use]], 1..=1, &[Resumed]);
}

#[test]
fn single_use_cancelled_login_starter() {
    check(SingleUse, &[&[Cancel], &[Use]], 1..=1, &[]);
}

#[test]
fn single_use_cancel_spend_send_three_callers() {
    check(SingleUse, &[&[Cancel], &[Spend], &[Use]], 0..=1, &[Resumed]);
}

/// A token that reached a caller just cancelled is dropped with it: the
/// chain stays held by nobody, and the next caller waits for ever.
#[test]
#[should_panic(expected = "deadlock")]
fn a_token_delivered_to_a_gone_caller_is_caught() {
    let setup = [Resumed, Broken(Fault::StrandArrived)];
    check(SingleUse, &[&[Cancel, Use], &[Use]], 0..=0, &setup);
}

/// A token sent and then given back as unsent would be sent again.
#[test]
#[should_panic(expected = "spent single-use token")]
fn a_sent_token_given_back_is_caught() {
    let setup = [Resumed, Broken(Fault::GiveBackSent)];
    check(SingleUse, &[&[Spend], &[Use]], 0..=1, &setup);
}
