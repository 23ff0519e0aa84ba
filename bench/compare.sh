#!/usr/bin/env bash
# Runs genrep (flex, ndarray) and PyTorch training-throughput benchmarks alternately, ROUNDS
# times, each on a quiet machine, and logs one JSON line per run to $OUT with the CPU time that
# other processes used meanwhile (so runs disturbed by a concurrent build can be spotted).
#
# Usage: GENREP_DATA=... bench/compare.sh [ROUNDS] [OUT]
# Env:   NICE (unset; e.g. -10 as root: the scheduler's nice of this session's autogroup while
#        measuring, to keep priority over a concurrent build in another session; with
#        autogroups a plain `nice` has no effect across sessions), GENREP (binary,
#        ./target/release/genrep), WAIT_MAX (120 s), TASK (mnist:3-vs-8), STEPS/REPS/WARMUP
#        (20/5/5 for flex and PyTorch),
#        ND_STEPS/ND_REPS/ND_WARMUP (5/3/2 for the much slower ndarray backend), SKIP_NDARRAY=1,
#        BATCH (64), SEQ_LEN (128, text tasks), BURN=1 (also genrep's burn autodiff path, --engine burn).
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
OUT=${2:-/tmp/genrep-bench.jsonl}
TASK=${TASK:-mnist:3-vs-8}
STEPS=${STEPS:-20} REPS=${REPS:-5} WARMUP=${WARMUP:-5} BATCH=${BATCH:-64} SEQ_LEN=${SEQ_LEN:-128}
ND_STEPS=${ND_STEPS:-5} ND_REPS=${ND_REPS:-3} ND_WARMUP=${ND_WARMUP:-2}
GENREP=${GENREP:-./target/release/genrep}
PY=bench/.venv/bin/python

if [[ -n "${NICE:-}" && -w /proc/self/autogroup ]]; then
  old_nice=$(awk '{print $3}' /proc/self/autogroup)
  echo "$NICE" > /proc/self/autogroup
  trap 'echo "$old_nice" > /proc/self/autogroup' EXIT
fi

busy_jiffies() { awk '/^cpu /{print $2+$3+$4+$7+$8+$9}' /proc/stat; }

# Waits (up to WAIT_MAX seconds, default 120) until the machine has been at least 90% idle
# for 3 seconds.
wait_quiet() {
  for _ in $(seq $(( ${WAIT_MAX:-120} / 3 ))); do
    local a b
    a=$(busy_jiffies); sleep 3; b=$(busy_jiffies)
    # 2 cores * 3 s * 100 jiffies/s = 600; 10% of that is 60.
    if (( b - a < 60 )); then return 0; fi
  done
  echo "warning: machine still busy after ${WAIT_MAX:-120}s; measuring anyway (see foreign_cpu_s)" >&2
}

# run LABEL CMD...: runs CMD (which prints one JSON line), appends it with the foreign CPU time
# and the process's peak RSS.
run() {
  local label=$1; shift
  wait_quiet
  local t0 b0 b1 t1 json self
  b0=$(busy_jiffies); t0=$(date +%s.%N)
  json=$( { /usr/bin/time -f '%U %S %M' -o /tmp/genrep-bench-time "$@"; } )
  b1=$(busy_jiffies); t1=$(date +%s.%N)
  self=$(awk '{print ($1+$2)*100}' /tmp/genrep-bench-time)
  local foreign
  foreign=$(awk -v b="$((b1 - b0))" -v s="$self" 'BEGIN{f=(b-s)/100; if (f<0) f=0; printf "%.1f", f}')
  local wall rss
  wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}')
  rss=$(awk '{printf "%.0f", $3/1024}' /tmp/genrep-bench-time)
  echo "{\"label\":\"$label\",\"wall_s\":$wall,\"foreign_cpu_s\":$foreign,\"peak_rss_mib\":$rss,\"result\":$json}" | tee -a "$OUT"
}

for r in $(seq "$ROUNDS"); do
  echo "== round $r / $ROUNDS ($(date -Is), load $(cut -d' ' -f1-3 /proc/loadavg))" >&2
  run genrep-flex $GENREP bench train --device cpu --task "$TASK" --steps "$STEPS" --reps "$REPS" --warmup "$WARMUP" --batch-size "$BATCH" --seq-len "$SEQ_LEN" --json
  run pytorch $PY bench/pytorch_train.py --task "$TASK" --steps "$STEPS" --reps "$REPS" --warmup "$WARMUP" --batch-size "$BATCH" --seq-len "$SEQ_LEN" --json
  if [[ -n "${BURN:-}" ]]; then
    run genrep-burn $GENREP bench train --device cpu --engine burn --task "$TASK" --steps "$STEPS" --reps "$REPS" --warmup "$WARMUP" --batch-size "$BATCH" --seq-len "$SEQ_LEN" --json
  fi
  if [[ -z "${SKIP_NDARRAY:-}" ]]; then
    run genrep-ndarray $GENREP bench train --device ndarray --task "$TASK" --steps "$ND_STEPS" --reps "$ND_REPS" --warmup "$ND_WARMUP" --json
  fi
done
