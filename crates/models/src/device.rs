//! Choosing the compute device by name: `cpu`/`flex` (default), `ndarray`, `wgpu`.

use crate::error::{ModelError, Result};
use burn::prelude::Device;

/// Device names accepted by [`parse_device`] in this build.
pub fn device_names() -> Vec<&'static str> {
    let mut v = vec!["cpu", "flex", "ndarray"];
    if cfg!(feature = "wgpu") {
        v.push("wgpu");
    }
    v
}

/// The device called `name`: `cpu` and `flex` are burn's pure-Rust multi-threaded CPU backend,
/// `ndarray` the older (deprecated upstream) CPU backend, `wgpu` the GPU backend (needs the
/// `wgpu` cargo feature and a Vulkan/Metal/DX12 driver). Training enables autodiff on it.
pub fn parse_device(name: &str) -> Result<Device> {
    match name {
        "cpu" | "flex" => Ok(Device::flex()),
        #[allow(deprecated)]
        "ndarray" => Ok(Device::ndarray()),
        #[cfg(feature = "wgpu")]
        "wgpu" | "gpu" => Ok(Device::wgpu(burn::prelude::DeviceKind::DefaultDevice)),
        #[cfg(not(feature = "wgpu"))]
        "wgpu" | "gpu" => Err(ModelError::Config {
            field: "device",
            what: "`wgpu` needs a build with the GPU backend: cargo build --release --features wgpu".into(),
        }),
        other => Err(ModelError::Config {
            field: "device",
            what: format!("`{other}` is not a device (known: {})", device_names().join(", ")),
        }),
    }
}

/// True for the CPU devices whose computations run on this machine's cores through burn-flex
/// (`cpu`/`flex`; with or without autodiff): where the models' fused CPU paths apply.
/// `ndarray` answers false, so that it stays an independent cross-check of burn's own kernels.
pub fn is_cpu(device: &Device) -> bool {
    device.clone().inner() == Device::flex()
}
