//! SCAFFOLD (being replaced): model-level checks shared by both front ends.

use crate::diag::Diagnostic;
use crate::model::Api;

/// Every problem of a lowered model.
pub fn validate(api: &Api) -> Vec<Diagnostic> {
    let _ = api;
    Vec::new()
}
