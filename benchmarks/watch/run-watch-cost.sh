#!/usr/bin/env bash
# run-watch-cost.sh: what one sample of `pskeepalive watch` costs against one `pskeepalive connections` run,
# as whole processes (CPU time: user + system of the child, wait4), while ../shared/bench/conn-farm holds N
# loopback pairs. A watch that runs D seconds at a 1 s interval takes D + 1 samples; the cost of one sample in
# the steady state is (CPU of a long watch - CPU of a short one) / (difference in samples), which removes
# start-up and the first sample (that one builds the map of followed connections).
#
# Commands, in alternation (benchmarks/listers/alternate.py, measure.c), ROUNDS rounds:
#   connections --json                                  one full listing with JSON
#   watch --json --interval 1000 --duration SHORT|LONG  every socket followed
#   connections --local-port 1                          kernel-side filter (the kernel still walks every socket)
#   watch --local-port 1 --interval 1000 --duration SHORT|LONG
# Writes OUTDIR/{env.txt, farm-N.json, runs-N.json, table-N.md, summary.md}.
#
# Usage: benchmarks/watch/run-watch-cost.sh [-o OUTDIR] [-r ROUNDS] [-c CLI] [-s SHORT] [-l LONG] [N]
#   N       pairs (default 50000)
#   -r      rounds (default 3)
#   -c      time this pskeepalive binary instead of publishing the tree (Native AOT)
#   -s, -l  the short and long watch durations in seconds (default 1 and 20)
#   SHARED  where ../shared is (default: next to the repository)
# Needs: python3, gcc, dotnet SDK.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib/shared-bench.sh
. "$HERE/../lib/shared-bench.sh"
LISTERS="$ROOT/benchmarks/listers"
OUT="$ROOT/benchmarks/results/$(date -u +%F)-watch"
ROUNDS=3
CLI=""
SHORT=1
LONG=20
while getopts "o:r:c:s:l:h" opt; do
  case $opt in
    o) OUT=$OPTARG ;;
    r) ROUNDS=$OPTARG ;;
    c) CLI=$(realpath "$OPTARG") ;;
    s) SHORT=$OPTARG ;;
    l) LONG=$OPTARG ;;
    *) sed -n '2,21p' "$0"; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
N=${1:-50000}
[ "$LONG" -gt "$SHORT" ] || { echo "run-watch-cost: -l ($LONG) must be longer than -s ($SHORT)" >&2; exit 2; }

for t in python3 gcc dotnet; do
  command -v "$t" >/dev/null || { echo "run-watch-cost: $t not found" >&2; exit 1; }
done
[ -x "$BENCH/conn-farm" ] || { echo "run-watch-cost: $BENCH/conn-farm not found; set SHARED" >&2; exit 1; }
mkdir -p "$OUT"
WORK=$(mktemp -d /tmp/pskeepalive-watch-cost.XXXXXX)
FARM=""
READY=""
cleanup() {                       # stop the farm we started (by its pid), remove our temp files
  if [ -n "$FARM" ] && kill -0 "$FARM" 2>/dev/null; then
    kill -TERM "$FARM"; wait "$FARM" 2>/dev/null || true
  fi
  [ -n "$READY" ] && rm -f "$READY"
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

MEASURE=$WORK/measure
gcc -O2 -o "$MEASURE" "$LISTERS/measure.c"
publish_cli run-watch-cost "$WORK"
mkdir -p "$WORK/bin"
cp "$CLI" "$WORK/bin/pskeepalive"
export PATH="$WORK/bin:$PATH"

{ echo "date: $(date -u -Is)"; echo "host: $(uname -n)"; echo "nproc: $(nproc)"; echo "kernel: $(uname -r)";
  echo "uptime at start: $(uptime)"; echo "cli: Native AOT, $COMMIT"; } > "$OUT/env.txt"
cat "$OUT/env.txt"

start_farm run-watch-cost "$N" 3600
cp "$READY" "$OUT/farm-$N.json"

W="pskeepalive watch --interval 1000"
CMDS=("pskeepalive connections --json" "$W --json --duration $SHORT" "$W --json --duration $LONG"
      "pskeepalive connections --local-port 1" "$W --local-port 1 --duration $SHORT" "$W --local-port 1 --duration $LONG")
python3 "$LISTERS/alternate.py" --measure "$MEASURE" --rounds "$ROUNDS" --warmup 0 --out "$OUT/runs-$N.json" \
  --baseline "pskeepalive connections --json" "${CMDS[@]}" | tee "$OUT/table-$N.md"

echo "uptime at end: $(uptime)" >> "$OUT/env.txt"
# Per sample: medians of CPU, long minus short watch, over the samples between them.
python3 - "$OUT/runs-$N.json" "$SHORT" "$LONG" > "$WORK/per-sample.md" <<'PY'
import json, statistics, sys
runs = json.load(open(sys.argv[1]))["runs"]
short, long_ = int(sys.argv[2]), int(sys.argv[3])
cpu = {k: statistics.median(r["cpu_ms"] for r in v) for k, v in runs.items()}
W = "pskeepalive watch --interval 1000"
print("| watch | CPU ms per steady-state sample | one matching `connections` run, CPU ms | ratio |")
print("|---|---:|---:|---:|")
for label, watch, single in (("every socket, `--json`", f"{W} --json", "pskeepalive connections --json"),
                             ("`--local-port 1`", f"{W} --local-port 1", "pskeepalive connections --local-port 1")):
    per = (cpu[f"{watch} --duration {long_}"] - cpu[f"{watch} --duration {short}"]) / (long_ - short)
    print(f"| {label} | {per:.1f} | {cpu[single]:.1f} | {per / cpu[single]:.2f}x |")
PY
{ sed 's/$/  /' "$OUT/env.txt"; echo; echo "### $N pairs ($((2 * N)) sockets)"; echo; cat "$OUT/table-$N.md"; echo;
  cat "$WORK/per-sample.md"; } > "$OUT/summary.md"
cat "$WORK/per-sample.md"
echo "summary: $OUT/summary.md"
