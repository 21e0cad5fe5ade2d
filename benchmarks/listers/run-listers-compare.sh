#!/usr/bin/env bash
# run-listers-compare.sh: `pskeepalive connections` against ss and the sock_diag floor, as whole processes,
# while ../shared/bench/conn-farm holds N loopback pairs (2N ESTABLISHED sockets, keepalive on 25 % of clients).
#
# For each N: start the farm, check the counts (ss and our own --json agree with the farm's ready file),
# run ONE hyperfine comparison (each command in two passes, list order then reversed, pooled), measure peak
# memory (max RSS) of the CLI, optionally run the in-process BenchmarkDotNet dump suite, stop the farm.
# Writes OUTDIR/{env.txt, compare-N.json, memory-N.txt, check-N.txt, summary.md}.
#
# Usage: benchmarks/listers/run-listers-compare.sh [-o OUTDIR] [-r RUNS] [-b] [N ...]
#   N       default 10000 50000
#   -r      runs per pass (default 10 at N <= 10000, 5 above; ss -tanp takes seconds per run at 50k)
#   -b      also run the BenchmarkDotNet dump suite (in-process enumeration vs floor) at the largest N
#   SHARED  where ../shared is (default: next to the repository)
# Needs: python3, hyperfine, ss (iproute2), gcc, dotnet SDK, /usr/bin/time.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib/shared-bench.sh
. "$HERE/../lib/shared-bench.sh"
OUT="$ROOT/benchmarks/results/$(date -u +%F)"
RUNS=""
BDN=0
while getopts "o:r:bh" opt; do
  case $opt in
    o) OUT=$OPTARG ;;
    r) RUNS=$OPTARG ;;
    b) BDN=1 ;;
    *) sed -n '2,15p' "$0"; exit 1 ;;
  esac
done
shift $((OPTIND - 1))
COUNTS=("$@")
[ ${#COUNTS[@]} -eq 0 ] && COUNTS=(10000 50000)

for t in python3 hyperfine ss gcc dotnet /usr/bin/time; do
  command -v "$t" >/dev/null || { echo "run-listers-compare: $t not found (apt-get install -y hyperfine iproute2 gcc time)" >&2; exit 1; }
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

# The floor: one sock_diag dump of every TCP socket, counted, nothing parsed.
FLOOR=$WORK/nl-dump-floor
gcc -O2 -o "$FLOOR" "$BENCH/nl-dump-floor.c"

# The CLI as users get it: Native AOT (PublishAot in the project); framework-dependent fallback if AOT is unavailable.
CLI_DIR=$WORK/cli
if dotnet publish "$ROOT/src/PSKeepalive.Cli" -c Release -o "$CLI_DIR" >"$WORK/publish.log" 2>&1 && [ -x "$CLI_DIR/pskeepalive" ] && file "$CLI_DIR/pskeepalive" | grep -q ELF; then
  CLI="$CLI_DIR/pskeepalive"; CLI_KIND="Native AOT"
else
  echo "run-listers-compare: AOT publish failed (see below); using the framework-dependent build" >&2; tail -5 "$WORK/publish.log" >&2
  dotnet publish "$ROOT/src/PSKeepalive.Cli" -c Release -p:PublishAot=false -o "$CLI_DIR" >/dev/null
  CLI="dotnet $CLI_DIR/pskeepalive.dll"; CLI_KIND="framework-dependent (dotnet pskeepalive.dll)"
fi

{ echo "date: $(date -u -Is)"; echo "host: $(uname -n)"; echo "nproc: $(nproc)"; echo "kernel: $(uname -r)";
  echo "loadavg at start: $(cut -d' ' -f1-3 /proc/loadavg)"; echo "ss: $(ss -V)"; echo "hyperfine: $(hyperfine --version)";
  echo "dotnet: $(dotnet --version)"; echo "cli: $CLI_KIND"; echo "commit: $(git -C "$ROOT" rev-parse --short HEAD)"; } > "$OUT/env.txt"

for N in "${COUNTS[@]}"; do
  if [ -n "$RUNS" ]; then R=$RUNS; elif [ "$N" -le 10000 ]; then R=10; else R=5; fi

  READY=$(mktemp -u /tmp/conn-farm.XXXXXX.json)
  "$BENCH/conn-farm" --count "$N" --keepalive-fraction 0.25 --hold-seconds 900 --ready-file "$READY" --quiet &
  FARM=$!
  for _ in $(seq 1 600); do [ -s "$READY" ] && break; kill -0 "$FARM" 2>/dev/null || break; sleep 0.2; done
  [ -s "$READY" ] || { echo "run-listers-compare: conn-farm did not get ready for N=$N within 120 s" >&2; exit 1; }
  cp "$READY" "$OUT/farm-$N.json"

  # Counts: ESTABLISHED sockets and those certainly without keepalive, by ss and by us (host sockets add a few).
  python3 - "$READY" "$CLI" > "$OUT/check-$N.txt" <<'PY'
import json, subprocess, sys
farm = json.load(open(sys.argv[1]))
cli = sys.argv[2].split()
ss = subprocess.run(["ss", "-tan", "state", "established"], capture_output=True, text=True).stdout.count("\n") - 1
ours = json.loads(subprocess.run(cli + ["connections", "--json", "--state", "established"], capture_output=True, text=True, check=True).stdout)
ka = sum(1 for c in ours if c["timer"] == "keepalive")
nok = sum(1 for c in ours if c["noKeepalive"] is True)
print(f"farm: established {farm['established_sockets']}, keepalive {farm['keepalive_sockets']}")
print(f"ss -tan state established: {ss}")
print(f"pskeepalive connections --state established: {len(ours)} (keepalive timer {ka}, noKeepalive {nok})")
ok = len(ours) >= farm["established_sockets"] and ka >= farm["keepalive_sockets"] and abs(len(ours) - ss) <= 50
print("OK" if ok else "MISMATCH")
PY
  cat "$OUT/check-$N.txt"

  # Peak memory of the CLI (max RSS, KiB); "--local-port 1" runs the whole dump but makes no objects.
  { for args in "connections --json --local-port 1" "connections --json" "connections" "connections --json --include-process"; do
      /usr/bin/time -f "%M KiB max RSS: pskeepalive $args" $CLI $args > /dev/null 2>> "$WORK/rss.txt" || true
      tail -1 "$WORK/rss.txt"
    done; } > "$OUT/memory-$N.txt"
  cat "$OUT/memory-$N.txt"

  CMDS=("ss -tan" "ss -tano" "ss -tanp" "$FLOOR"
        "$CLI connections --json" "$CLI connections" "$CLI connections --json --include-process")
  REV=(); for ((i=${#CMDS[@]}-1; i>=0; i--)); do REV+=("${CMDS[i]}"); done
  hyperfine -N --warmup 1 --runs "$R" --export-json "$WORK/pass1.json" "${CMDS[@]}" > /dev/null
  hyperfine -N --warmup 1 --runs "$R" --export-json "$WORK/pass2.json" "${REV[@]}" > /dev/null
  python3 - "$WORK/pass1.json" "$WORK/pass2.json" "$OUT/compare-$N.json" <<'PY'
import json, sys
runs, cpu = {}, {}
for path in sys.argv[1:3]:
    for r in json.load(open(path))["results"]:
        runs.setdefault(r["command"], []).extend(r["times"])
        cpu.setdefault(r["command"], []).extend([r["user"] + r["system"]] * len(r["times"]))
json.dump({"results": [{"command": c, "times": t, "cpu_mean": sum(cpu[c]) / len(cpu[c])} for c, t in runs.items()]}, open(sys.argv[3], "w"), indent=1)
PY

  if [ "$BDN" = 1 ] && [ "$N" = "${COUNTS[-1]}" ]; then
    (cd "$ROOT/benchmarks/PSKeepalive.Benchmarks" && dotnet run -c Release -- --filter '*DumpBenchmarks*' --artifacts "$OUT/bdn-$N") > "$OUT/bdn-$N.log" 2>&1 || echo "BenchmarkDotNet run failed: see $OUT/bdn-$N.log" >&2
    # The floor as a whole process right after, for the in-process / floor-process ratio.
    hyperfine -N --warmup 2 --runs 20 --export-json "$OUT/floor-after-bdn-$N.json" "$FLOOR" > /dev/null
  fi

  kill -TERM "$FARM"; wait "$FARM" 2>/dev/null || true; FARM=""; rm -f "$READY"
done

# Summary: medians and ratios to `ss -tan` within each N (the host is shared: compare ratios, not times).
python3 - "$OUT" "$FLOOR" "$CLI" "${COUNTS[@]}" > "$OUT/summary.md" <<'PY'
import json, statistics, sys
out, floor, cli, counts = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
def name(c):
    return c.replace(floor, "nl-dump-floor").replace(cli, "pskeepalive")
rows, meds, cpus = {}, {}, {}
for n in counts:
    res = json.load(open(f"{out}/compare-{n}.json"))["results"]
    meds[n] = {name(r["command"]): statistics.median(r["times"]) * 1000 for r in res}
    cpus[n] = {name(r["command"]): r.get("cpu_mean", float("nan")) * 1000 for r in res}
    for r in res:
        rows.setdefault(name(r["command"]), None)
print(open(f"{out}/env.txt").read().replace("\n", "  \n"))
print("Wall clock (median of both passes) and CPU (user + system, mean), ratio to `ss -tan` at the same N.\n")
print("| command | " + " | ".join(f"{n} pairs: wall ms | wall ratio | CPU ms | CPU ratio" for n in counts) + " |")
print("|---|" + "---:|---:|---:|---:|" * len(counts))
for c in rows:
    cells = []
    for n in counts:
        m, base = meds[n].get(c), meds[n]["ss -tan"]
        u, ubase = cpus[n].get(c), cpus[n]["ss -tan"]
        cells += [f"{m:.1f}", f"{m / base:.2f}", f"{u:.1f}", f"{u / ubase:.2f}"] if m is not None else ["", "", "", ""]
    print(f"| `{c}` | " + " | ".join(cells) + " |")
PY
cat "$OUT/summary.md"
