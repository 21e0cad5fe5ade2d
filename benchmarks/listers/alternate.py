#!/usr/bin/env python3
"""Runs whole processes in alternation and reports wall clock, CPU time and peak RSS of every run.

Every round runs each command once, the order rotated by one each round (and reversed every other round),
so that drift on a shared machine (other builds starting or ending) hits every command alike. Each run goes
through `measure` (measure.c, built by the caller): fork, exec with output to /dev/null, wait4; wall clock
is fork..reap, CPU the child's user + system time, peak memory its ru_maxrss. The load average is sampled
before every round.

    alternate.py --measure ./measure --rounds 10 --warmup 1 --out runs.json --baseline 'ss -tan' \
        'ss -tan' './nl-dump-floor' './pskeepalive connections --json'

Prints one table (medians, ratios to the baseline and, with --floor, to the floor) and writes every run to
--out (JSON) for later analysis.
"""
import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import time


def run_once(measure, argv):
    out = subprocess.run([measure] + argv, capture_output=True, text=True, check=True).stdout.split()
    code, wall, user, system, maxrss = int(out[0]), float(out[1]), float(out[2]), float(out[3]), int(out[4])
    if code != 0:
        sys.exit(f"alternate: '{shlex.join(argv)}' exited with {code}")
    return {"wall_ms": wall, "user_ms": user, "sys_ms": system, "cpu_ms": user + system, "maxrss_kib": maxrss}


def loadavg():
    with open("/proc/loadavg") as f:
        return [float(x) for x in f.read().split()[:3]]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--measure", required=True, help="the measure.c binary")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=1, help="untimed rounds first (page cache, dentries)")
    parser.add_argument("--out", help="JSON file for every run")
    parser.add_argument("--baseline", help="command the ratios are relative to (default: the first)")
    parser.add_argument("--floor", help="second reference command (ratio column 'x floor')")
    parser.add_argument("--name", action="append", default=[], metavar="CMD=NAME", help="display name of a command")
    parser.add_argument("commands", nargs="+")
    args = parser.parse_args()

    commands = args.commands
    names = dict(n.split("=", 1) for n in args.name)
    baseline = args.baseline or commands[0]
    for ref in (baseline, args.floor):
        if ref is not None and ref not in commands:
            sys.exit(f"alternate: '{ref}' is not one of the commands")

    runs = {c: [] for c in commands}
    loads = []
    started = time.time()
    for r in range(-args.warmup, args.rounds):
        order = commands[r % len(commands):] + commands[:r % len(commands)]
        if r % 2:
            order.reverse()
        if r >= 0:
            loads.append(loadavg())
        for command in order:
            result = run_once(args.measure, shlex.split(command))
            if r >= 0:
                runs[command].append(result)

    def med(command, key):
        return statistics.median(x[key] for x in runs[command])

    summary = []
    for c in commands:
        row = {"command": c, "name": names.get(c, c), "runs": len(runs[c])}
        for key in ("wall_ms", "cpu_ms", "user_ms", "sys_ms", "maxrss_kib"):
            row[key] = med(c, key)
        row["wall_min_ms"] = min(x["wall_ms"] for x in runs[c])
        row["wall_max_ms"] = max(x["wall_ms"] for x in runs[c])
        row["wall_vs_baseline"] = row["wall_ms"] / med(baseline, "wall_ms")
        row["cpu_vs_baseline"] = row["cpu_ms"] / med(baseline, "cpu_ms")
        if args.floor:
            row["wall_vs_floor"] = row["wall_ms"] / med(args.floor, "wall_ms")
            row["cpu_vs_floor"] = row["cpu_ms"] / med(args.floor, "cpu_ms")
        summary.append(row)

    flat = [x for l in loads for x in l[:1]]
    result = {
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "seconds": round(time.time() - started, 1),
        "rounds": args.rounds,
        "warmup": args.warmup,
        "baseline": baseline,
        "floor": args.floor,
        "loadavg_1min": {"min": min(flat), "median": statistics.median(flat), "max": max(flat)},
        "loadavg_per_round": loads,
        "summary": summary,
        "runs": runs,
    }
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=1)

    base = names.get(baseline, baseline)
    floor = names.get(args.floor, args.floor) if args.floor else None
    print(f"{args.rounds} alternating rounds; load average (1 min) {min(flat):.2f}..{max(flat):.2f}, median {statistics.median(flat):.2f}")
    header = f"| command | wall ms (median) | wall / `{base}` | CPU ms (user+sys) | CPU / `{base}` |"
    if floor:
        header += f" wall / floor | CPU / floor |"
    header += " peak RSS MiB |"
    print(header)
    print("|---|" + "---:|" * (header.count("|") - 2))
    for row in summary:
        line = (f"| `{row['name']}` | {row['wall_ms']:.1f} | {row['wall_vs_baseline']:.2f} | {row['cpu_ms']:.1f} "
                f"| {row['cpu_vs_baseline']:.2f} |")
        if floor:
            line += f" {row['wall_vs_floor']:.2f} | {row['cpu_vs_floor']:.2f} |"
        line += f" {row['maxrss_kib'] / 1024:.1f} |"
        print(line)


if __name__ == "__main__":
    main()
