#!/usr/bin/env bash
# The Table 1 grid as a real Slurm job array on a single-node cluster started in this container
# (tests/slurm/cluster.sh): a 4-task array of examples/slurm/table1.sbatch plus a dependent
# merge job, checked against an unsharded run of the same experiment; then one array task is
# cancelled mid-shard and resubmitted, and must resume its shard to the same rows.
#
#   GENREP_DATA=/path/to/datasets bash tests/slurm/run.sh      (root; builds nothing: it uses
#   target/release/genrep, so build first with cargo build --release --workspace)
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${GENREP_DATA:?point GENREP_DATA at the datasets}"
GENREP="$(pwd)/target/release/genrep"
[ -x "$GENREP" ] || { echo "error: build first: cargo build --release --workspace" >&2; exit 1; }
if ! command -v sbatch >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends slurm-wlm munge >/dev/null
fi
bash tests/slurm/cluster.sh >/dev/null

WORK="$(mktemp -d /tmp/genrep-slurm-test.XXXXXX)"
export GENREP GENREP_DATA DATASET=mnist PRESET=smoke OUT="$WORK/array"
export EXTRA="--nets 2 --tests-per-net 2 --methods random,tracking:ll --train-per-class 60"

dels() { # file: its number of deletion rows (0 if it does not exist yet)
  if [ -f "$1" ]; then awk '/"kind":"del"/ {n++} END {print n + 0}' "$1"; else echo 0; fi
}
wait_for() { # job ids...: waits until none is queued or running
  while [ -n "$(squeue -h -j "$(IFS=,; echo "$*")" 2>/dev/null)" ]; do sleep 1; done
}
rows() { # dir: the deletion rows without timings, sorted
  python3 - "$1" <<'PY'
import json, sys, glob
out = []
for f in glob.glob(sys.argv[1] + "/rows*.jsonl"):
    for line in open(f):
        r = json.loads(line)
        if r.get("kind") == "del":
            r.pop("seconds", None)
            out.append(json.dumps(r, sort_keys=True))
print("\n".join(sorted(set(out))))
PY
}

start=$(date +%s)
# shellcheck disable=SC2086
"$GENREP" experiment --table 1 --preset smoke --dataset mnist --jobs 1 $EXTRA --out "$WORK/whole" >/dev/null 2>&1

cd "$WORK"
array=$(sbatch --parsable --array=0-3 --cpus-per-task=1 "$OLDPWD/examples/slurm/table1.sbatch")
merge=$(sbatch --parsable --dependency=afterok:"$array" "$OLDPWD/examples/slurm/merge.sbatch")
wait_for "$array" "$merge"
cd "$OLDPWD"
[ -f "$OUT/merged/report.md" ] || { echo "FAIL: the merge job wrote no report"; cat "$WORK"/*.out; exit 1; }
diff <(rows "$WORK/whole") <(rows "$OUT/merged") >/dev/null \
  || { echo "FAIL: merged array rows differ from the unsharded run"; exit 1; }
n=$(rows "$OUT/merged" | wc -l)
echo "array of 4 + merge: $n deletion rows, equal to the unsharded run"

# Cancel shard 1 of 4 mid-run, resubmit it alone, and check that it resumes to the same rows.
export OUT="$WORK/killed" SHARDS=4
cd "$WORK"
first=$(sbatch --parsable --array=1 --cpus-per-task=1 "$OLDPWD/examples/slurm/table1.sbatch")
rows_file="$OUT/shard-1/rows-shard-1-of-4.jsonl"
for _ in $(seq 1 1500); do
  [ "$(dels "$rows_file")" -ge 2 ] && break
  sleep 0.2
done
scancel --signal=KILL --full "$first"
wait_for "$first"
kept=$(dels "$rows_file")
resub=$(sbatch --parsable --array=1 --cpus-per-task=1 "$OLDPWD/examples/slurm/table1.sbatch")
wait_for "$resub"
cd "$OLDPWD"
diff <(rows "$WORK/array/shard-1") <(rows "$OUT/shard-1") >/dev/null \
  || { echo "FAIL: the resubmitted shard differs from the uninterrupted one"; exit 1; }
total=$(dels "$rows_file")
echo "shard 1 of 4 cancelled (SIGKILL) after $kept deletion rows; resubmitted, it finished with $total rows, equal to the uninterrupted shard"
echo "slurm test passed in $(( $(date +%s) - start )) s"
