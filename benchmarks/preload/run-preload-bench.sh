#!/usr/bin/env bash
# run-preload-bench.sh: what libpskeepalive.so costs, next to bare and to
# Debian's libkeepalive0 (libkeepalive 0.3), measured in one run.
#
# 1. connect rate of the shared connect-loop.c (built here with gcc), variants
#    alternating within each round (order reversed every other round) so that
#    drift on a shared machine hits all of them alike:
#      bare            no preload
#      pskeepalive     our shim, PSKEEPALIVE_IDLE/INTERVAL/COUNT set (4 setsockopt)
#      pskeepalive-ka  our shim, no values (SO_KEEPALIVE only, 1 setsockopt)
#      libkeepalive    /usr/lib/libkeepalive.so, KEEPIDLE/KEEPINTVL/KEEPCNT set
#    Modes: single (-1: accept in the same loop), fork (acceptor child),
#    socket-only (-s: socket()+close(), 10x COUNT ops).
# 2. process start, hyperfine -N: `env true` vs the same with each preload.
#
# Usage: run-preload-bench.sh [-o OUTDIR] [-r ROUNDS] [-n COUNT] [-s SHIM.so]
#   SHARED=/path/to/shared overrides where bench/connect-loop.c is found
#   (default: ../shared next to the repository or its main worktree).
# Needs: gcc, python3, hyperfine, libkeepalive0 (apt-get install -y libkeepalive0 hyperfine)
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib/shared-bench.sh
. "$HERE/../lib/shared-bench.sh"
OUT="$HERE/results/$(date -u +%F)"
ROUNDS=15
COUNT=20000
SHIM=""
while getopts "o:r:n:s:h" opt; do
  case $opt in
    o) OUT=$OPTARG ;;
    r) ROUNDS=$OPTARG ;;
    n) COUNT=$OPTARG ;;
    s) SHIM=$OPTARG ;;
    *) sed -n '2,22p' "$0"; exit 2 ;;
  esac
done
[ -f "$BENCH/connect-loop.c" ] || { echo "run-preload-bench: $BENCH/connect-loop.c not found (set SHARED=)" >&2; exit 1; }
LKA=$(dpkg -L libkeepalive0 2>/dev/null | grep '/libkeepalive\.so$' | head -1 || true)
[ -f "$LKA" ] || { echo "run-preload-bench: libkeepalive0 missing (apt-get install -y libkeepalive0)" >&2; exit 1; }
for t in gcc python3 hyperfine; do
  command -v "$t" >/dev/null || { echo "run-preload-bench: $t not found" >&2; exit 1; }
done
mkdir -p "$OUT"
TMP=$(mktemp -d /tmp/preload-bench.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

BIN="$TMP/connect-loop"
gcc -O2 -Wall -o "$BIN" "$BENCH/connect-loop.c"
if [ -z "$SHIM" ]; then   # build the shim from this tree, same flags as preload.targets
  SHIM="$TMP/libpskeepalive.so"
  gcc -std=c11 -O2 -fPIC -shared -Wall -Wextra -Werror -Wconversion -Wshadow \
      -Wstrict-prototypes -Wmissing-prototypes -fvisibility=hidden \
      -D_FORTIFY_SOURCE=2 -fstack-protector-strong -Wl,-z,relro,-z,now,-z,noexecstack \
      -o "$SHIM" "$ROOT/src/preload/keepalive_core.c" "$ROOT/src/preload/pskeepalive_preload.c" -pthread -ldl
fi

# --- 1. connect rate -----------------------------------------------------
CSV="$OUT/preload-connect.csv"
echo "round,mode,variant,ops_per_sec,usec_per_op,so_keepalive,cpu_usec_per_op" > "$CSV"
# cpu_usec_per_op: user+system CPU time of the run (bash `time`, children included, so the forked
# acceptor counts too) over all its cycles (warm-up included). Unlike ops/s it does not drop when other
# processes compete for the CPUs, so it is the steadier figure on a shared machine.
WARMUP=1000
run_variant() {   # round mode variant
  local round=$1 mode=$2 variant=$3 line ops_total
  local args=(-n "$COUNT" -w "$WARMUP" -t 120)
  ops_total=$((COUNT + WARMUP + 1))
  [ "$mode" = single ] && args+=(-1)
  if [ "$mode" = socket-only ]; then
    args=(-n $((10 * COUNT)) -w "$WARMUP" -s -t 120)
    ops_total=$((10 * COUNT + WARMUP + 1))
  fi
  local pre=()
  case $variant in
    bare)           pre=(env -u LD_PRELOAD) ;;
    pskeepalive)    pre=(env LD_PRELOAD="$SHIM" PSKEEPALIVE_IDLE=60 PSKEEPALIVE_INTERVAL=10 PSKEEPALIVE_COUNT=5) ;;
    pskeepalive-ka) pre=(env LD_PRELOAD="$SHIM") ;;
    libkeepalive)   pre=(env LD_PRELOAD="$LKA" KEEPIDLE=60 KEEPINTVL=10 KEEPCNT=5) ;;
  esac
  { TIMEFORMAT='%3U %3S'; time "${pre[@]}" "$BIN" "${args[@]}" > "$TMP/line"; } 2> "$TMP/time"
  line=$(cat "$TMP/line")
  local ops us ka user sys cpu
  ops=$(sed -n 's/.*connects_per_sec=\([0-9]*\).*/\1/p' <<<"$line")
  us=$(sed -n 's/.*usec_per_op=\([0-9.]*\).*/\1/p' <<<"$line")
  ka=$(sed -n 's/.*so_keepalive=\([0-9]*\).*/\1/p' <<<"$line")
  read -r user sys < <(tail -1 "$TMP/time")
  cpu=$(python3 -c "print(f'{($user + $sys) * 1e6 / $ops_total:.3f}')")
  echo "$round,$mode,$variant,$ops,$us,$ka,$cpu" >> "$CSV"
}
VARIANTS=(bare pskeepalive pskeepalive-ka libkeepalive)
for r in $(seq 1 "$ROUNDS"); do
  for mode in single fork socket-only; do
    if (( r % 2 )); then order=(0 1 2 3); else order=(3 2 1 0); fi
    for i in "${order[@]}"; do run_variant "$r" "$mode" "${VARIANTS[i]}"; done
  done
  echo "round $r/$ROUNDS done" >&2
done

# --- 2. process start ----------------------------------------------------
# A B C C B A: hyperfine runs the commands one after the other, so each one
# appears twice in mirrored order and the runs are pooled in the summary.
START_OURS=("env LD_PRELOAD=$SHIM PSKEEPALIVE_IDLE=60 PSKEEPALIVE_INTERVAL=10 PSKEEPALIVE_COUNT=5 true")
START_LKA=("env LD_PRELOAD=$LKA KEEPIDLE=60 KEEPINTVL=10 KEEPCNT=5 true")
timeout 600 hyperfine -N --warmup 20 --runs 200 --output=null \
    --export-json "$OUT/preload-start.json" \
    'env true' "${START_OURS[@]}" "${START_LKA[@]}" "${START_LKA[@]}" "${START_OURS[@]}" 'env true' >&2

# --- summary -------------------------------------------------------------
python3 - "$OUT" "$ROUNDS" "$COUNT" > "$OUT/preload-summary.md" <<'PY'
import csv, json, statistics as st, sys
out, rounds, count = sys.argv[1], sys.argv[2], sys.argv[3]
rows = list(csv.DictReader(open(f"{out}/preload-connect.csv")))
print(f"{rounds} rounds, {count} connects per run (10x in socket-only), variants alternating.")
print("ratio = median over rounds of (variant ops/s / bare ops/s in the same round); CPU ratio = median of")
print("(bare CPU us/op / variant CPU us/op), the same ratio computed from CPU time instead of wall time.\n")
print("| mode | variant | median ops/s | min | max | SO_KEEPALIVE | paired ratio (min-max) | extra us/op | CPU us/op | CPU ratio | extra CPU us/op |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for mode in ("single", "fork", "socket-only"):
    by = {}
    for r in rows:
        if r["mode"] == mode:
            by.setdefault(r["variant"], {})[r["round"]] = (
                int(r["ops_per_sec"]), float(r["usec_per_op"]), r["so_keepalive"], float(r["cpu_usec_per_op"]))
    bare = by["bare"]
    for var in ("bare", "pskeepalive", "pskeepalive-ka", "libkeepalive"):
        d = by[var]
        vals = [v[0] for v in d.values()]
        ratios = [d[k][0] / bare[k][0] for k in d]
        extra = [d[k][1] - bare[k][1] for k in d]
        cpu = [v[3] for v in d.values()]
        cpu_ratio = [bare[k][3] / d[k][3] for k in d]   # as a throughput ratio: < 1 = costs more CPU
        cpu_extra = [d[k][3] - bare[k][3] for k in d]
        print(f"| {mode} | {var} | {st.median(vals):.0f} | {min(vals)} | {max(vals)} | "
              f"{','.join(sorted({v[2] for v in d.values()}))} | "
              f"{st.median(ratios):.3f} ({min(ratios):.2f}-{max(ratios):.2f}) | "
              f"{st.median(extra):+.2f} | {st.median(cpu):.2f} | {st.median(cpu_ratio):.3f} | {st.median(cpu_extra):+.2f} |")
print()
res = json.load(open(f"{out}/preload-start.json"))["results"]
print("| command | runs | median ms | min ms | max ms |")
print("|---|---:|---:|---:|---:|")
pooled = {}
for r in res:
    name = ("env true" if "LD_PRELOAD" not in r["command"] else
            "env LD_PRELOAD=libpskeepalive.so (+3 vars) true" if "PSKEEPALIVE" in r["command"] else
            "env LD_PRELOAD=libkeepalive.so (+3 vars) true")
    pooled.setdefault(name, []).extend(r["times"])
med = {}
for name, t in pooled.items():
    med[name] = st.median(t)
    print(f"| `{name}` | {len(t)} | {st.median(t)*1e3:.3f} | {min(t)*1e3:.3f} | {max(t)*1e3:.3f} |")
base = med["env true"]
for k, v in med.items():
    if k != "env true":
        print(f"\n{k.split('=')[1].split()[0]} start overhead vs `env true`: {(v-base)*1e3:+.3f} ms ({v/base:.3f}x)")
PY
cat "$OUT/preload-summary.md"
