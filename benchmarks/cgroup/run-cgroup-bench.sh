#!/usr/bin/env bash
# run-cgroup-bench.sh: what a keepalive policy on a cgroup (BPF sock_ops) costs a
# program, against the same loop setting the options itself, the LD_PRELOAD shim
# and the seccomp supervisor, with the shared connect-loop.c (dynamically linked,
# so that every route reaches it).
#
# Variants, alternating within each round (order reversed every other round) so
# that drift on a shared machine hits all of them alike; every variant runs in a
# throw-away cgroup of its own (pskeepalive-bench-*), so that all pay the same
# cgroup bookkeeping:
#   bare         connect-loop alone: no keepalive
#   self-K       connect-loop -K 60,10,5: the loop sets SO_KEEPALIVE and the
#                three timers itself on each client socket (the floor)
#   policy       a policy (idle 60, interval 10, count 5, mode outgoing) on the
#                loop's cgroup: the same options on the same sockets, set by the
#                kernel at connection establishment
#   policy-all   the same policy, mode all: the accepted ends get them too (twice
#                the work of self-K)
#   shim         LD_PRELOAD=libpskeepalive.so, same values, mode outgoing
#   seccomp      pskeepalive-seccomp, same values, mode outgoing
# Modes: single (-1: accept in the same loop) and fork (an acceptor child).
# Each run records connect-loop's wall-clock rate and the CPU time (user + system)
# of every process it started (getrusage of the reaped children); on a loaded
# machine CPU time per connect is the steadier measure.
# Then the policy program's own run time in the kernel: BPF_ENABLE_STATS (held
# by an fd for the length of one run, so no sysctl is changed) makes the kernel
# count run_time_ns and run_cnt per program, read with bpftool before and after
# a single-mode run of the policy variant.
#
# Usage: run-cgroup-bench.sh [-o OUTDIR] [-r ROUNDS] [-n COUNT]
#   SHARED=/path/to/shared overrides where bench/connect-loop.c is found.
# Needs: root, cgroup v2, gcc, python3, dotnet (builds the CLI and the shim).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../lib/shared-bench.sh
. "$HERE/../lib/shared-bench.sh"
OUT="$HERE/results/$(date -u +%F)"
ROUNDS=10
COUNT=20000
while getopts "o:r:n:h" opt; do
  case $opt in
    o) OUT=$OPTARG ;;
    r) ROUNDS=$OPTARG ;;
    n) COUNT=$OPTARG ;;
    *) sed -n '2,36p' "$0"; exit 2 ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "run-cgroup-bench: needs root (policies are BPF programs)" >&2; exit 1; }
[ -f "$BENCH/connect-loop.c" ] || { echo "run-cgroup-bench: $BENCH/connect-loop.c not found (set SHARED=)" >&2; exit 1; }
MOUNT=$(awk '{ for (i = 1; i <= NF; i++) if ($i == "-") { if ($(i + 1) == "cgroup2") { print $5; exit } } }' /proc/self/mountinfo)
[ -n "$MOUNT" ] || { echo "run-cgroup-bench: no cgroup2 mount" >&2; exit 1; }
mkdir -p "$OUT"
TMP=$(mktemp -d /tmp/cgroup-bench.XXXXXX)
PLAIN="$MOUNT/pskeepalive-bench-$$-plain"
POLICY="$MOUNT/pskeepalive-bench-$$-policy"
POLICYALL="$MOUNT/pskeepalive-bench-$$-policyall"
cleanup() {
  for cg in "$PLAIN" "$POLICY" "$POLICYALL"; do rmdir "$cg" 2>/dev/null || true; done   # frees the policies
  rm -rf "$TMP"
}
trap cleanup EXIT
mkdir "$PLAIN" "$POLICY" "$POLICYALL"

gcc -O2 -Wall -o "$TMP/connect-loop" "$BENCH/connect-loop.c"
dotnet build -c Release "$ROOT/src/PSKeepalive.Cli" >"$TMP/build.log" 2>&1 || { cat "$TMP/build.log" >&2; exit 1; }
BIN_DIR="$ROOT/src/PSKeepalive.Cli/bin/Release/net8.0"
CLI="dotnet $BIN_DIR/pskeepalive.dll"
$CLI policy set --cgroup "$POLICY" --idle 60 --interval 10 --count 5 --mode outgoing >&2
$CLI policy set --cgroup "$POLICYALL" --idle 60 --interval 10 --count 5 --mode all >&2

{
  echo "date: $(date -u +%FT%TZ)"; echo "kernel: $(uname -r)"; echo "nproc: $(nproc)"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)"
  echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"; echo "cgroup2: $MOUNT"
  echo "rounds: $ROUNDS, connects per run: $COUNT"
} > "$OUT/env.txt"

python3 - "$OUT/cgroup-connect.csv" "$ROUNDS" "$COUNT" "$TMP/connect-loop" "$BIN_DIR" "$PLAIN" "$POLICY" "$POLICYALL" <<'PY'
import csv, os, re, resource, subprocess, sys
out, rounds, count, binary, bindir, plain, policy, policyall = sys.argv[1:9]
rounds, count = int(rounds), int(count)
base = {k: v for k, v in os.environ.items() if not k.startswith("PSKEEPALIVE_") and k != "LD_PRELOAD"}
values = {"PSKEEPALIVE_IDLE": "60", "PSKEEPALIVE_INTERVAL": "10", "PSKEEPALIVE_COUNT": "5", "PSKEEPALIVE_MODE": "outgoing"}
variants = {   # name: (prefix, extra arguments, environment, cgroup)
    "bare": ([], [], {}, plain),
    "self-K": ([], ["-K", "60,10,5"], {}, plain),
    "policy": ([], [], {}, policy),
    "policy-all": ([], [], {}, policyall),
    "shim": ([], [], {**values, "LD_PRELOAD": f"{bindir}/libpskeepalive.so"}, plain),
    "seccomp": ([f"{bindir}/pskeepalive-seccomp", "--"], [], values, plain),
}
modes = {"single": ["-n", str(count), "-1"], "fork": ["-n", str(count)]}
names = list(variants)

def into(cgroup):
    def move():   # runs in the child between fork and exec: the loop starts inside its cgroup
        with open(os.path.join(cgroup, "cgroup.procs"), "w") as f:
            f.write(str(os.getpid()))
    return move

with open(out, "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["round", "mode", "variant", "ops_per_sec", "usec_per_op", "cpu_usec_per_op", "so_keepalive", "load1"])
    for r in range(1, rounds + 1):
        for mode, margs in modes.items():
            for v in (names if r % 2 else names[::-1]):
                prefix, extra, env, cgroup = variants[v]
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                p = subprocess.run(prefix + [binary] + margs + extra + ["-t", "120"], env={**base, **env},
                                   preexec_fn=into(cgroup), capture_output=True, text=True, timeout=180)
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                if p.returncode != 0:
                    sys.exit(f"run-cgroup-bench: {v} {mode} failed: {p.stderr}")
                kv = dict(re.findall(r"(\w+)=([\d.]+)", p.stdout))
                cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
                ops = int(kv["connects"])
                load1 = open("/proc/loadavg").read().split()[0]
                w.writerow([r, mode, v, kv["connects_per_sec"], kv["usec_per_op"], f"{cpu / ops * 1e6:.3f}", kv.get("so_keepalive", ""), load1])
                f.flush()
        print(f"round {r}/{rounds} done", file=sys.stderr)
PY
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$OUT/env.txt"

# --- the policy program's run time in the kernel ---------------------------
PROGRAM=$($CLI policy get --cgroup "$POLICY" --json | python3 -c 'import json, sys; print(json.load(sys.stdin)[0]["programId"])')
python3 - "$OUT/cgroup-program-runtime.txt" "$PROGRAM" "$TMP/connect-loop" "$POLICY" "$COUNT" <<'PY'
import ctypes, json, os, platform, subprocess, sys
out, program, binary, cgroup, count = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
libc = ctypes.CDLL(None, use_errno=True)
attr = (ctypes.c_ubyte * 256)()   # enable_stats.type = BPF_STATS_RUN_TIME (0)
fd = libc.syscall(280 if platform.machine() == "aarch64" else 321, 32, attr, 256)   # bpf(BPF_ENABLE_STATS)
if fd < 0:
    sys.exit(f"run-cgroup-bench: BPF_ENABLE_STATS failed (errno {ctypes.get_errno()})")
def show():
    return json.loads(subprocess.run(["bpftool", "-j", "prog", "show", "id", program], capture_output=True, text=True, check=True).stdout)
def into():
    with open(os.path.join(cgroup, "cgroup.procs"), "w") as f:
        f.write(str(os.getpid()))
lines = []
for attempt in range(5):
    before = show()
    run = subprocess.run([binary, "-n", str(count), "-w", "0", "-1", "-t", "120"], preexec_fn=into, capture_output=True, text=True, check=True).stdout.strip()
    after = show()
    ns = after.get("run_time_ns", 0) - before.get("run_time_ns", 0)
    runs = after.get("run_cnt", 0) - before.get("run_cnt", 0)
    lines.append(f"{run}\n  program {program}: {runs} runs ({runs / count:.1f} per connection), {ns / max(runs, 1):.0f} ns per run, "
                 f"{ns / count:.0f} ns per connection (all its callbacks, the four bpf_setsockopt calls included)")
os.close(fd)
open(out, "w").write("\n".join(lines) + "\n")
PY

python3 "$HERE/summarize.py" "$OUT" > "$OUT/cgroup-summary.md"
{ echo; echo "Policy program run time in the kernel (BPF_ENABLE_STATS), single mode, $COUNT connects per run:"; echo '```'
  cat "$OUT/cgroup-program-runtime.txt"; echo '```'; } >> "$OUT/cgroup-summary.md"
cat "$OUT/cgroup-summary.md"
