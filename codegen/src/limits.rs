//! Limits the runtime enforces that the generator checks first, so a spec
//! past one fails when the client is generated, not when it is built.
//!
//! The runtime owns each number. The generator cannot depend on the runtime
//! (the macro would compile reqwest and tokio), nor would a crate of its own
//! for a few numbers pay for itself; so each is written here again, and a
//! test against the runtime (a dev-dependency only) keeps the two equal.

/// Replays per call after an expiry, at most: the runtime's `MAX_REPLAYS_LIMIT`.
pub const MAX_REPLAYS: u32 = 8;

#[cfg(test)]
mod tests {
    #[test]
    fn the_limits_are_the_runtimes() {
        assert_eq!(super::MAX_REPLAYS, seamless_sdk_runtime::MAX_REPLAYS_LIMIT);
    }
}
