#!/usr/bin/env bash
# One command for a machine with a GPU (e.g. NVIDIA with its Vulkan driver): builds genrep with
# the wgpu backend, runs the GPU-vs-CPU parity suite (tests/wgpu_parity.rs), and times training
# with `genrep bench train` on the GPU against the CPU and, if a CUDA-enabled torch is installed,
# PyTorch on CUDA; then prints one summary table. On a CPU-only machine it runs unchanged and
# says what it skipped.
#
#   GENREP_DATA=/path/to/datasets bash scripts/gpu-check.sh
#
# Environment: GENREP_WGPU_DEVICE (default `wgpu`: wgpu picks the API and a discrete GPU first;
# `wgpu:vulkan`, `wgpu:gl` pin the API), CARGO_TARGET_DIR (default target-wgpu: the wgpu build
# has its own burn features, so it gets its own directory and leaves the CPU build alone),
# PYTHON (default python3), STEPS (timed steps per repetition, default 20), WARMUP (untimed
# steps first, default 5). On a software device (Mesa llvmpipe/lavapipe, ~10 s per step) use
# STEPS=2 WARMUP=1.
set -uo pipefail
cd "$(dirname "$0")/.."
: "${GENREP_DATA:?point GENREP_DATA at the datasets (mnist/ is needed)}"
export GENREP_DATA
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target-wgpu}"
DEVICE="${GENREP_WGPU_DEVICE:-wgpu}"
PYTHON="${PYTHON:-python3}"
STEPS="${STEPS:-20}"
WARMUP="${WARMUP:-5}"
LOG="$(mktemp -d /tmp/genrep-gpu-check.XXXXXX)"
declare -a ROWS=()
STATUS=0
row() { # step result detail: a summary row; a FAILED result makes the script fail
  ROWS+=("$(printf '| %-34s | %-10s | %s |' "$1" "$2" "$3")")
  if [ "$2" = "FAILED" ]; then STATUS=1; fi
}

# 1. What this machine has.
gpu_name=""
if command -v nvidia-smi >/dev/null 2>&1; then
  gpu_name="$(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null | head -1)"
fi
if [ -n "$gpu_name" ] || [ "${GENREP_REQUIRE_GPU:-}" = "1" ]; then
  row "GPU" "required" "${gpu_name:-GENREP_REQUIRE_GPU=1}"
  export GENREP_REQUIRE_GPU=1 # the parity suite and the GPU benchmark must then really run on it
else
  row "GPU" "none" "no nvidia-smi answer (set GENREP_REQUIRE_GPU=1 on other GPUs): GPU steps run only if wgpu finds an adapter"
fi

# 2. Build (timed).
start=$(date +%s)
if cargo build --release --workspace --features wgpu >"$LOG/build.log" 2>&1 &&
  cargo test --release --workspace --features wgpu --no-run >>"$LOG/build.log" 2>&1; then
  row "build --features wgpu" "ok" "$(($(date +%s) - start)) s (target: $CARGO_TARGET_DIR)"
else
  row "build --features wgpu" "FAILED" "see $LOG/build.log"
  printf '%s\n' "${ROWS[@]}"
  exit 1
fi
GENREP="$CARGO_TARGET_DIR/release/genrep"
check_start=$(date +%s)

# 3. Parity suite on the GPU device (each test prints SKIPPED when there is no adapter).
if GENREP_WGPU_DEVICE="$DEVICE" cargo test --release --workspace --features wgpu --test wgpu_parity \
  -- --nocapture >"$LOG/parity.log" 2>&1; then
  if grep -q "SKIPPED" "$LOG/parity.log"; then
    row "parity suite ($DEVICE)" "skipped" "$(grep -m1 SKIPPED "$LOG/parity.log" | cut -c1-110)"
  else
    errs="$(grep -o '^[a-z:-]*: relative error gpu vs cpu [0-9.e+-]*' "$LOG/parity.log" | sed 's/relative error gpu vs cpu/rel. err/' | paste -sd';' -)"
    row "parity suite ($DEVICE)" "passed" "${errs:-see $LOG/parity.log}"
  fi
else
  row "parity suite ($DEVICE)" "FAILED" "see $LOG/parity.log"
fi

# 4. Training throughput: genrep on the GPU and on the CPU, PyTorch on CUDA.
bench() { # name device: runs genrep bench train, adds a row
  if "$GENREP" bench train --device "$2" --steps "$STEPS" --warmup "$WARMUP" --reps 3 >"$LOG/bench-$1.log" 2>&1; then
    row "genrep bench train ($2)" "ok" "$(grep -o '[0-9.]* examples/s median' "$LOG/bench-$1.log" | head -1)"
  elif [ "$2" != cpu ] && [ "${GENREP_REQUIRE_GPU:-}" != "1" ]; then
    row "genrep bench train ($2)" "skipped" "$(tail -1 "$LOG/bench-$1.log" | cut -c1-110)"
  else
    row "genrep bench train ($2)" "FAILED" "$(tail -1 "$LOG/bench-$1.log" | cut -c1-110)"
  fi
}
bench gpu "$DEVICE"
bench cpu cpu
if "$PYTHON" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
  if "$PYTHON" bench/pytorch_train.py --device cuda --steps "$STEPS" --warmup "$WARMUP" --reps 3 >"$LOG/torch.log" 2>&1; then
    row "pytorch train (cuda)" "ok" "$(grep -o '[0-9.]* examples/s median' "$LOG/torch.log" | head -1)"
  else
    row "pytorch train (cuda)" "FAILED" "see $LOG/torch.log"
  fi
else
  row "pytorch train (cuda)" "skipped" "no torch with CUDA for $PYTHON"
fi
row "checks after the build" "" "$(($(date +%s) - check_start)) s"

echo "| step                               | result     | detail |"
echo "|---|---|---|"
printf '%s\n' "${ROWS[@]}"
echo "logs: $LOG"
exit "$STATUS"
