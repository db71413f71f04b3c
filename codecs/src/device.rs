//! Choosing the device the transforms run on.

use ncodec_models::burn::prelude::Device;

/// The device for transforms: a wgpu GPU when built with the `wgpu` feature and
/// `NCODEC_DEVICE=wgpu`, else the CPU (`flex`). Entropy coding and `h_s` always run on the
/// CPU, so the choice never changes a file's bytes.
pub fn default_device() -> Device {
    #[cfg(feature = "wgpu")]
    if std::env::var("NCODEC_DEVICE").is_ok_and(|v| v == "wgpu") {
        return Device::wgpu(Default::default());
    }
    Device::flex()
}
