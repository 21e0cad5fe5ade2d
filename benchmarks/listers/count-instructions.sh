#!/usr/bin/env bash
# count-instructions.sh: user-space instructions (valgrind callgrind, Ir) of `pskeepalive connections --json`
# and `--json --include-process` for one or more CLI builds, while ../shared/bench/conn-farm holds N pairs.
# Instruction counts barely move with the machine's load, so they compare two versions of our code where
# wall clock cannot (perf stat has no hardware counters in these VMs). Kernel work (the dump itself, the
# /proc walk) is not counted: compare it by CPU time (run-listers-compare.sh).
#
# Usage: benchmarks/listers/count-instructions.sh [-n N] [-o OUTDIR] CLI [CLI ...]
#   N       pairs held by the farm (default 50000)
#   CLI     pskeepalive binaries (dotnet publish src/PSKeepalive.Cli -c Release -o DIR). For function names
#           in callgrind_annotate, publish with -p:StripSymbols=false and run `objcopy --strip-debug` on the
#           binary (valgrind 3.19 cannot read the separate .dbg file).
# Writes OUTDIR/callgrind.<build>.<case>.out and prints a table of Ir totals.
# Needs: valgrind, python3.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib/shared-bench.sh
. "$HERE/../lib/shared-bench.sh"
N=50000
OUT=$(mktemp -d /tmp/pskeepalive-callgrind.XXXXXX)
while getopts "n:o:h" opt; do
  case $opt in
    n) N=$OPTARG ;;
    o) OUT=$OPTARG ;;
    *) sed -n '2,15p' "$0"; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
[ $# -ge 1 ] || { sed -n '2,15p' "$0"; exit 2; }
command -v valgrind >/dev/null || { echo "count-instructions: valgrind not found (apt-get install -y valgrind)" >&2; exit 1; }
mkdir -p "$OUT"

FARM=""
READY=$(mktemp -u /tmp/conn-farm.XXXXXX.json)
cleanup() {
  if [ -n "$FARM" ] && kill -0 "$FARM" 2>/dev/null; then kill -TERM "$FARM"; wait "$FARM" 2>/dev/null || true; fi
  rm -f "$READY"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
"$BENCH/conn-farm" --count "$N" --keepalive-fraction 0.25 --hold-seconds 1800 --ready-file "$READY" --quiet &
FARM=$!
for _ in $(seq 1 900); do [ -s "$READY" ] && break; kill -0 "$FARM" 2>/dev/null || break; sleep 0.2; done
[ -s "$READY" ] || { echo "count-instructions: conn-farm did not get ready" >&2; exit 1; }

echo "$N pairs held; $(uptime)"
echo "| build | case | instructions (Ir) |"
echo "|---|---|---:|"
i=0
for cli in "$@"; do
  i=$((i + 1))
  for case in json include-process; do
    args=(connections --json); [ "$case" = include-process ] && args+=(--include-process)
    file="$OUT/callgrind.$i.$case.out"
    # The GC reserves 256 GiB of address space by default, which valgrind refuses: ask for 1 GiB.
    DOTNET_GCRegionRange=40000000 valgrind --tool=callgrind --callgrind-out-file="$file" "$cli" "${args[@]}" \
      > /dev/null 2> "$file.log" || { echo "count-instructions: $cli failed under valgrind, see $file.log" >&2; exit 1; }
    ir=$(grep -o 'refs: *[0-9,]*' "$file.log" | tr -dc '0-9')
    printf '| %s | %s | %s |\n' "$cli" "${args[*]}" "$(printf "%'d" "$ir")"
  done
done
echo "callgrind files: $OUT (callgrind_annotate FILE | head -40)"
