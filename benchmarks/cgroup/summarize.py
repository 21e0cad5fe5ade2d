#!/usr/bin/env python3
"""summarize.py OUTDIR: the summary table of a run-cgroup-bench.sh run, from OUTDIR/cgroup-connect.csv and env.txt.

Medians are paired per round against self-K (the loop setting the options itself). Because the machine is
shared, CPU time is also given for the least disturbed run of each variant (the minimum over rounds: other
load only ever adds to it), which is the figure to compare across variants on a loaded host.
"""
import csv
import statistics as st
import sys

out = sys.argv[1]
rows = list(csv.DictReader(open(f"{out}/cgroup-connect.csv")))
env = open(f"{out}/env.txt").read().strip().replace("\n", "; ")
print(f"{env}\n")
print("wall/CPU vs self-K: median over rounds of the ratio to self-K in the same round (CPU: self-K CPU / variant CPU;")
print("above 1 means cheaper than the loop setting the options itself). Least disturbed: minimum CPU over the rounds.\n")
print("| mode | variant | SO_KEEPALIVE | median connects/s | wall vs self-K (min-max) | median CPU us/connect | CPU vs self-K (min-max) | least disturbed CPU us/connect | extra vs bare | vs self-K |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
for mode in ("single", "fork"):
    by = {}
    for r in rows:
        if r["mode"] == mode:
            by.setdefault(r["variant"], {})[r["round"]] = (int(r["ops_per_sec"]), float(r["cpu_usec_per_op"]), r["so_keepalive"])
    ref, bare = by["self-K"], by["bare"]
    floor = {v: min(x[1] for x in d.values()) for v, d in by.items()}
    for var in ("bare", "self-K", "policy", "policy-all", "shim", "seccomp"):
        d = by.get(var, {})
        wall = [d[k][0] / ref[k][0] for k in d if k in ref]
        cpu = [ref[k][1] / d[k][1] for k in d if k in ref]
        print(f"| {mode} | {var} | {','.join(sorted({v[2] for v in d.values()}))} | {st.median(v[0] for v in d.values()):.0f} | "
              f"{st.median(wall):.3f} ({min(wall):.2f}-{max(wall):.2f}) | {st.median(v[1] for v in d.values()):.2f} | "
              f"{st.median(cpu):.3f} ({min(cpu):.2f}-{max(cpu):.2f}) | {floor[var]:.2f} | {floor[var] - floor['bare']:+.2f} | "
              f"{floor['self-K'] / floor[var]:.3f} |")
