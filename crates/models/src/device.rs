//! Choosing the compute device by name: `cpu`/`flex` (default), `ndarray`, `wgpu`
//! (`wgpu:vulkan`, `wgpu:gl`, `wgpu:metal`, `wgpu:dx12` pin the graphics API).

use crate::error::{ModelError, Result};
use burn::prelude::Device;

/// Device names accepted by [`parse_device`] in this build.
pub fn device_names() -> Vec<&'static str> {
    let mut v = vec!["cpu", "flex", "ndarray"];
    if cfg!(feature = "wgpu") {
        v.extend(["wgpu", "wgpu:vulkan", "wgpu:gl", "wgpu:metal", "wgpu:dx12"]);
    }
    v
}

/// The device called `name`: `cpu` and `flex` are burn's pure-Rust multi-threaded CPU backend,
/// `ndarray` the older (deprecated upstream) CPU backend, `wgpu` the GPU backend (needs the
/// `wgpu` cargo feature and a GPU driver). Training enables autodiff on it.
///
/// `wgpu` lets wgpu choose the graphics API and the adapter (a high-power, i.e. discrete, GPU
/// first; `CUBECL_WGPU_DEFAULT_DEVICE` overrides); `wgpu:vulkan`, `wgpu:gl`, `wgpu:metal` and
/// `wgpu:dx12` pin the API and never fall back to another. The device is acquired here, so a
/// machine without a usable adapter gets an error naming the device, not a panic at the first
/// tensor.
///
/// ```
/// let cpu = genrep_models::parse_device("cpu")?;
/// # let _ = cpu;
/// assert!(genrep_models::parse_device("tpu").is_err());
/// # Ok::<(), genrep_models::ModelError>(())
/// ```
pub fn parse_device(name: &str) -> Result<Device> {
    match name {
        "cpu" | "flex" => Ok(Device::flex()),
        #[allow(deprecated)]
        "ndarray" => Ok(Device::ndarray()),
        #[cfg(feature = "wgpu")]
        "wgpu" | "gpu" => wgpu_device(name, "auto"),
        #[cfg(feature = "wgpu")]
        other if other.starts_with("wgpu:") => wgpu_device(name, &other["wgpu:".len()..]),
        #[cfg(not(feature = "wgpu"))]
        other if other == "gpu" || other == "wgpu" || other.starts_with("wgpu:") => Err(ModelError::Config {
            field: "device",
            what: format!(
                "`{other}` needs a build with the GPU backend: cargo build --release --workspace --features wgpu"
            ),
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

/// The wgpu device on graphics API `api` (`auto`, `vulkan`, `gl`, `metal`, `dx12`), acquired once
/// per process and reused (burn's runtime for a device can be initialised only once).
#[cfg(feature = "wgpu")]
fn wgpu_device(name: &str, api: &str) -> Result<Device> {
    use burn::tensor::wgpu::{WgpuBackend, WgpuInitError};
    use std::sync::Mutex;
    static ACQUIRED: Mutex<Vec<(WgpuBackend, Device)>> = Mutex::new(Vec::new());
    let backend = match api {
        "auto" => WgpuBackend::Auto,
        "vulkan" => WgpuBackend::Vulkan,
        "gl" | "opengl" | "gles" => WgpuBackend::Gl,
        "metal" => WgpuBackend::Metal,
        "dx12" => WgpuBackend::Dx12,
        other => {
            return Err(ModelError::Config {
                field: "device",
                what: format!("`{name}`: `{other}` is not a graphics API (known: vulkan, gl, metal, dx12)"),
            })
        }
    };
    let mut acquired = ACQUIRED.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((_, device)) = acquired.iter().find(|(b, _)| *b == backend) {
        return Ok(device.clone());
    }
    let device = match Device::wgpu_options().graphics_api(backend).init() {
        Ok(device) => device,
        // The runtime was brought up lazily before (e.g. by a tensor on `Device::default()`):
        // the automatic choice is still reachable as burn's lazy default wgpu device.
        Err(WgpuInitError::Registration { .. }) if backend == WgpuBackend::Auto => {
            Device::wgpu(burn::prelude::DeviceKind::DefaultDevice)
        }
        Err(e) => {
            let hint = match e {
                WgpuInitError::AdapterUnavailable { .. }
                | WgpuInitError::UnsupportedGraphicsApi { .. }
                | WgpuInitError::RequestDevice { .. } => {
                    ". No usable GPU adapter on this machine for that API: install its driver (Vulkan), or use \
                     Mesa's software OpenGL with --device wgpu:gl (Debian: libegl-mesa0 libgl1-mesa-dri), or --device cpu"
                }
                _ => " (check CUBECL_WGPU_* environment variables), or use --device cpu",
            };
            return Err(ModelError::Config { field: "device", what: format!("`{name}`: {e}{hint}") });
        }
    };
    acquired.push((backend, device.clone()));
    Ok(device)
}
