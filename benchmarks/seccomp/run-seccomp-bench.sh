#!/usr/bin/env bash
# run-seccomp-bench.sh: what pskeepalive-seccomp costs a program, measured with
# the shared connect-loop.c built statically (the kind of program seccomp mode
# exists for: LD_PRELOAD cannot reach it).
#
# 1. connect rate, variants alternating within each round (order reversed every
#    other round) so that drift on a shared machine hits all of them alike:
#      bare          the static connect-loop alone
#      seccomp       under pskeepalive-seccomp, IDLE/INTERVAL/COUNT set: one
#                    round trip to the supervisor per connect() (4 setsockopt)
#      seccomp-ka    same, no values (SO_KEEPALIVE only, 1 setsockopt)
#      seccomp-idle  PSKEEPALIVE_MODE=listening: connect() is not notified, so
#                    this is the cost of the BPF filter alone on every syscall
#    Modes: single (-1: accept in the same loop), fork (acceptor child),
#    socket-only (-s: socket()+close(), 10x COUNT ops, nothing notified).
# 2. process start, hyperfine -N: a static `true` alone vs under the launcher
#    (fork, filter, listener hand-over, exec, POLLHUP).
#
# Every run is bounded (connect-loop -t, timeout around hyperfine).
# Usage: run-seccomp-bench.sh [-o OUTDIR] [-r ROUNDS] [-n COUNT] [-l LAUNCHER]
#   SHARED=/path/to/shared overrides where bench/connect-loop.c is found
#   (default: ../shared next to the repository or its main worktree).
# Needs: gcc with static libc (libc6-dev), python3, hyperfine.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib/shared-bench.sh
. "$HERE/../lib/shared-bench.sh"
OUT="$HERE/results/$(date -u +%F)"
ROUNDS=10
COUNT=20000
LAUNCHER=""
while getopts "o:r:n:l:h" opt; do
  case $opt in
    o) OUT=$OPTARG ;;
    r) ROUNDS=$OPTARG ;;
    n) COUNT=$OPTARG ;;
    l) LAUNCHER=$OPTARG ;;
    *) sed -n '2,24p' "$0"; exit 2 ;;
  esac
done
[ -f "$BENCH/connect-loop.c" ] || { echo "run-seccomp-bench: $BENCH/connect-loop.c not found (set SHARED=)" >&2; exit 1; }
for t in gcc python3 hyperfine; do
  command -v "$t" >/dev/null || { echo "run-seccomp-bench: $t not found" >&2; exit 1; }
done
mkdir -p "$OUT"
TMP=$(mktemp -d /tmp/seccomp-bench.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

BIN="$TMP/connect-loop"
gcc -O2 -Wall -static -o "$BIN" "$BENCH/connect-loop.c"
printf 'int main(void) { return 0; }\n' > "$TMP/true.c"
gcc -O2 -static -o "$TMP/true-static" "$TMP/true.c"
if [ -z "$LAUNCHER" ]; then   # build the launcher from this tree, same flags and sources as seccomp.targets
  LAUNCHER="$TMP/pskeepalive-seccomp"
  gcc -std=c11 -O2 -Wall -Wextra -Werror -Wconversion -Wshadow -Wstrict-prototypes \
      -Wmissing-prototypes -fstack-protector-strong -D_FORTIFY_SOURCE=2 -fPIE -pie \
      -Wl,-z,relro,-z,now,-z,noexecstack \
      -o "$LAUNCHER" "$ROOT"/src/preload/{pskeepalive_seccomp,launcher_settings,seccomp_supervisor,seccomp_filter,launcher_cgroup}.c
fi

# --- 1. connect rate -----------------------------------------------------
# Each run records the wall-clock rate connect-loop prints and the CPU time
# (user + system) of everything the run started: connect-loop, its acceptor
# child and, under the launcher, the supervisor (getrusage of the reaped
# children). On a shared, oversubscribed machine the wall rate mostly shows
# scheduling delays; CPU time per operation is the steadier measure of cost.
CSV="$OUT/seccomp-connect.csv"
python3 - "$CSV" "$ROUNDS" "$COUNT" "$BIN" "$LAUNCHER" <<'PY'
import csv, os, re, resource, subprocess, sys
out, rounds, count, binary, launcher = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
base = {k: v for k, v in os.environ.items() if not k.startswith("PSKEEPALIVE_")}
variants = {
    "bare": ([], {}),
    "seccomp": ([launcher], {"PSKEEPALIVE_IDLE": "60", "PSKEEPALIVE_INTERVAL": "10", "PSKEEPALIVE_COUNT": "5"}),
    "seccomp-ka": ([launcher], {}),
    "seccomp-idle": ([launcher], {"PSKEEPALIVE_MODE": "listening"}),
}
modes = {"single": ["-n", str(count), "-1"], "fork": ["-n", str(count)], "socket-only": ["-n", str(10 * count), "-s"]}
names = list(variants)
with open(out, "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["round", "mode", "variant", "ops_per_sec", "usec_per_op", "cpu_usec_per_op", "so_keepalive"])
    for r in range(1, rounds + 1):
        for mode, margs in modes.items():
            order = names if r % 2 else names[::-1]
            for v in order:
                prefix, env = variants[v]
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                p = subprocess.run(prefix + [binary] + margs + ["-t", "120"], env={**base, **env},
                                   capture_output=True, text=True, timeout=180)
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                if p.returncode != 0:
                    sys.exit(f"run-seccomp-bench: {v} {mode} failed: {p.stderr}")
                kv = dict(re.findall(r"(\w+)=([\d.]+)", p.stdout))
                cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
                ops = int(kv["connects"])
                w.writerow([r, mode, v, kv["connects_per_sec"], kv["usec_per_op"], f"{cpu / ops * 1e6:.3f}", kv.get("so_keepalive", "")])
                f.flush()
        print(f"round {r}/{rounds} done", file=sys.stderr)
PY

# --- 2. process start ----------------------------------------------------
# A B B A: each command twice in mirrored order, runs pooled in the summary.
timeout 600 hyperfine -N --warmup 20 --runs 200 --output=null \
    --export-json "$OUT/seccomp-start.json" \
    "$TMP/true-static" "$LAUNCHER $TMP/true-static" "$LAUNCHER $TMP/true-static" "$TMP/true-static" >&2

# --- summary -------------------------------------------------------------
python3 - "$OUT" "$ROUNDS" "$COUNT" "$LAUNCHER" > "$OUT/seccomp-summary.md" <<'PY'
import csv, json, statistics as st, sys
out, rounds, count, launcher = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
rows = list(csv.DictReader(open(f"{out}/seccomp-connect.csv")))
print(f"{rounds} rounds, {count} connects per run (10x in socket-only), variants alternating.")
print("paired ratio = median over rounds of (variant ops/s / bare ops/s in the same round).\n")
print("| mode | variant | median ops/s | min | max | SO_KEEPALIVE | paired ratio (min-max) | extra wall us/op | CPU us/op (all processes) | extra CPU us/op |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
for mode in ("single", "fork", "socket-only"):
    by = {}
    for r in rows:
        if r["mode"] == mode and r["ops_per_sec"]:
            by.setdefault(r["variant"], {})[r["round"]] = (
                int(r["ops_per_sec"]), float(r["usec_per_op"]), r["so_keepalive"], float(r["cpu_usec_per_op"]))
    bare = by["bare"]
    for var in ("bare", "seccomp", "seccomp-ka", "seccomp-idle"):
        d = by.get(var, {})
        if not d:
            continue
        vals = [v[0] for v in d.values()]
        ratios = [d[k][0] / bare[k][0] for k in d if k in bare]
        extra = [d[k][1] - bare[k][1] for k in d if k in bare]
        cpu = [v[3] for v in d.values()]
        extra_cpu = [d[k][3] - bare[k][3] for k in d if k in bare]
        print(f"| {mode} | {var} | {st.median(vals):.0f} | {min(vals)} | {max(vals)} | "
              f"{','.join(sorted({v[2] for v in d.values()}))} | "
              f"{st.median(ratios):.3f} ({min(ratios):.2f}-{max(ratios):.2f}) | "
              f"{st.median(extra):+.2f} | {st.median(cpu):.2f} ({min(cpu):.2f}-{max(cpu):.2f}) | {st.median(extra_cpu):+.2f} |")
print()
res = json.load(open(f"{out}/seccomp-start.json"))["results"]
print("| command | runs | median ms | min ms | max ms |")
print("|---|---:|---:|---:|---:|")
pooled = {}
for r in res:
    name = "pskeepalive-seccomp true-static" if r["command"].startswith(launcher + " ") else "true-static"
    pooled.setdefault(name, []).extend(r["times"])
med = {}
for name, t in pooled.items():
    med[name] = st.median(t)
    print(f"| `{name}` | {len(t)} | {st.median(t)*1e3:.3f} | {min(t)*1e3:.3f} | {max(t)*1e3:.3f} |")
b, l = med["true-static"], med["pskeepalive-seccomp true-static"]
print(f"\nlauncher start overhead: {(l-b)*1e3:+.3f} ms ({l/b:.2f}x)")
PY
cat "$OUT/seccomp-summary.md"
