//! For the tests of `sim::patch` (patches applied to objects, with no server).

use sim::patch::{PatchRequest, PatchTarget, PatchType};

/// The target of the patches to Deployments.
pub const DEPLOYMENT: PatchTarget<'static> = PatchTarget {
    api_version: "apps/v1",
    kind: "Deployment",
    builtin: true,
};

pub fn at(time: &str) -> jiff::Timestamp {
    time.parse().unwrap()
}

/// A patch of `body` without a field manager, not forced, at the Unix epoch (override the
/// fields a test needs with `..request(…)`).
pub fn request(patch_type: PatchType, body: &[u8]) -> PatchRequest<'_> {
    PatchRequest {
        patch_type,
        body,
        field_manager: None,
        force: false,
        now: jiff::Timestamp::UNIX_EPOCH,
    }
}
