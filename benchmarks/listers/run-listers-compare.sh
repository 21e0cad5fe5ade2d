#!/usr/bin/env bash
# run-listers-compare.sh: `pskeepalive connections` against `ss -tan` and the sock_diag floors, as whole
# processes, while ../shared/bench/conn-farm holds N loopback pairs (2N ESTABLISHED sockets, keepalive on
# 25 % of clients). One run prints, per N, every command's wall clock, CPU time (user + system) and peak RSS,
# and their ratios to `ss -tan` and to the floor, with the machine's load.
#
# For each N: start the farm, check exact results (check-counts.py: the farm's sockets as ss lists them, as
# we list them, and their owners), run all commands in alternation (alternate.py: one run of each per round,
# order rotated, wait4 for CPU and max RSS), optionally run the BenchmarkDotNet stage suite, stop the farm.
# Writes OUTDIR/{env.txt, check-N.txt, runs-N.json, table-N.md, summary.md}.
#
# Usage: benchmarks/listers/run-listers-compare.sh [-o OUTDIR] [-r ROUNDS] [-c CLI] [-B OTHER_CLI] [-p] [-b] [N ...]
#   N       default 10000 50000 100000 (100k pairs = 200k sockets: conn-farm spreads them over processes)
#   -r      rounds (default 10 at N <= 10000, 7 above)
#   -c      time this pskeepalive binary instead of publishing the tree (Native AOT, dotnet publish)
#   -B      also time another pskeepalive binary (e.g. the previous commit's) in the same rounds
#   -p      also time `ss -tanp` (seconds per run at 50k pairs, ~25 s at 100k)
#   -b      also run the BenchmarkDotNet stage suite (DumpStageBenchmarks) at the largest N
#   SHARED  where ../shared is (default: next to the repository)
# Needs: python3, ss (iproute2), gcc, dotnet SDK.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib/shared-bench.sh
. "$HERE/../lib/shared-bench.sh"
OUT="$ROOT/benchmarks/results/$(date -u +%F)"
ROUNDS=""
CLI=""
OTHER=""
SSP=0
BDN=0
while getopts "o:r:c:B:pbh" opt; do
  case $opt in
    o) OUT=$OPTARG ;;
    r) ROUNDS=$OPTARG ;;
    c) CLI=$(realpath "$OPTARG") ;;
    B) OTHER=$(realpath "$OPTARG") ;;
    p) SSP=1 ;;
    b) BDN=1 ;;
    *) sed -n '2,21p' "$0"; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
COUNTS=("$@")
[ ${#COUNTS[@]} -eq 0 ] && COUNTS=(10000 50000 100000)

for t in python3 ss gcc dotnet; do
  command -v "$t" >/dev/null || { echo "run-listers-compare: $t not found (apt-get install -y iproute2 gcc python3)" >&2; exit 1; }
done
[ -x "$BENCH/conn-farm" ] || { echo "run-listers-compare: $BENCH/conn-farm not found; set SHARED" >&2; exit 1; }
mkdir -p "$OUT"
WORK=$(mktemp -d /tmp/pskeepalive-listers.XXXXXX)

FARM=""
READY=""
cleanup() {                       # stop the farm we started (by its pid), remove our temp files
  if [ -n "$FARM" ] && kill -0 "$FARM" 2>/dev/null; then
    kill -TERM "$FARM"; wait "$FARM" 2>/dev/null || true
  fi
  [ -n "$READY" ] && rm -f "$READY"
  FARM=""
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The floors: the kernel's dump with every message counted and nothing parsed. nl-dump-floor does what ss
# does (one SOCK_DIAG_BY_FAMILY dump per family); nl-dump-one-walk asks for both families in one walk.
FLOOR=$WORK/nl-dump-floor
ONEWALK=$WORK/nl-dump-one-walk
gcc -O2 -o "$FLOOR" "$BENCH/nl-dump-floor.c"
gcc -O2 -o "$ONEWALK" "$HERE/nl-dump-one-walk.c"
MEASURE=$WORK/measure
gcc -O2 -o "$MEASURE" "$HERE/measure.c"

# The CLI as users get it: Native AOT (PublishAot in the project).
publish_cli run-listers-compare "$WORK"
# Copies under short names, so that tables read "pskeepalive", not a temporary path.
mkdir -p "$WORK/bin"
cp "$CLI" "$WORK/bin/pskeepalive"; CLI="$WORK/bin/pskeepalive"
if [ -n "$OTHER" ]; then cp "$OTHER" "$WORK/bin/pskeepalive-other"; OTHER="$WORK/bin/pskeepalive-other"; fi
cp "$FLOOR" "$ONEWALK" "$WORK/bin/"
export PATH="$WORK/bin:$PATH"

{ echo "date: $(date -u -Is)"; echo "host: $(uname -n)"; echo "nproc: $(nproc)"; echo "kernel: $(uname -r)";
  echo "uptime at start: $(uptime)"; echo "ss: $(ss -V)"; echo "dotnet: $(dotnet --version)";
  echo "cli: Native AOT, $COMMIT"; [ -n "$OTHER" ] && echo "other cli: pskeepalive-other"; true; } > "$OUT/env.txt"
cat "$OUT/env.txt"

for N in "${COUNTS[@]}"; do
  if [ -n "$ROUNDS" ]; then R=$ROUNDS; elif [ "$N" -le 10000 ]; then R=10; else R=7; fi

  start_farm run-listers-compare "$N" 1800
  cp "$READY" "$OUT/farm-$N.json"

  echo "== $N pairs"
  python3 "$HERE/check-counts.py" "$READY" pskeepalive | tee "$OUT/check-$N.txt"

  CMDS=("ss -tan" "nl-dump-floor" "nl-dump-one-walk"
        "pskeepalive connections --json" "pskeepalive connections --json --include-process" "pskeepalive connections")
  [ -n "$OTHER" ] && CMDS+=("pskeepalive-other connections --json" "pskeepalive-other connections --json --include-process")
  [ "$SSP" = 1 ] && CMDS+=("ss -tanp")
  python3 "$HERE/alternate.py" --measure "$MEASURE" --rounds "$R" --warmup 1 --out "$OUT/runs-$N.json" \
    --baseline "ss -tan" --floor "nl-dump-floor" "${CMDS[@]}" | tee "$OUT/table-$N.md"

  if [ "$BDN" = 1 ] && [ "$N" = "${COUNTS[-1]}" ]; then
    (cd "$ROOT/benchmarks/PSKeepalive.Benchmarks" && dotnet run -c Release -- --filter '*DumpStageBenchmarks*' '*DumpBenchmarks*' --artifacts "$OUT/bdn-$N") > "$OUT/bdn-$N.log" 2>&1 || echo "BenchmarkDotNet run failed: see $OUT/bdn-$N.log" >&2
  fi

  kill -TERM "$FARM"; wait "$FARM" 2>/dev/null || true; FARM=""; rm -f "$READY"
done

echo "uptime at end: $(uptime)" >> "$OUT/env.txt"
{ sed 's/$/  /' "$OUT/env.txt"; echo
  for N in "${COUNTS[@]}"; do echo "### $N pairs ($((2 * N)) sockets)"; echo; sed -n '1p' "$OUT/table-$N.md"; echo; sed -n '2,$p' "$OUT/table-$N.md"; echo; grep -E 'OK|MISMATCH' "$OUT/check-$N.txt" | tail -1 | sed 's/^/counts: /'; echo; done; } > "$OUT/summary.md"
echo "summary: $OUT/summary.md"
