#!/usr/bin/env python3
"""Exact results, checked in the same run as the timings: the farm's sockets as `ss -tan` lists them, as
`pskeepalive connections --json` lists them, and as `--include-process` attributes them to the farm's workers.

    check-counts.py FARM_READY_JSON 'path/to/pskeepalive'

A farm socket is one whose local or remote endpoint (address and port) is one of the farm's listeners (the
listeners, the accepted sockets, the clients): other engineers' sockets come and go on a shared host, the
farm's do not (a port alone is not enough: another connection's ephemeral port may equal a listener's).
Exits 1 on any mismatch; prints what it compared.
"""
import json
import shlex
import subprocess
import sys


def split(endpoint):
    """'127.0.0.1:80' or '[::1]:80' -> ('127.0.0.1', 80); a listener's peer '*' port is -1."""
    address, port = endpoint.rsplit(":", 1)
    return address.strip("[]"), int(port) if port.isdigit() else -1


def is_farm(connection, listeners):
    return ((connection["localAddress"], connection["localPort"]) in listeners or
            (connection["remoteAddress"], connection["remotePort"]) in listeners)


def main():
    farm = json.load(open(sys.argv[1]))
    cli = shlex.split(sys.argv[2])
    listeners = {(l["addr"], l["port"]) for l in farm["listeners"]}
    workers = set(farm["worker_pids"]) | {farm["pid"]}
    expected = farm["established_sockets"] + farm["listening_sockets"]

    ss_lines = subprocess.run(["ss", "-tan"], capture_output=True, text=True, check=True).stdout.splitlines()[1:]
    ss_farm = 0
    for line in ss_lines:
        fields = line.split()
        if len(fields) >= 5 and (split(fields[3]) in listeners or split(fields[4]) in listeners):
            ss_farm += 1

    ours = json.loads(subprocess.run(cli + ["connections", "--json"], capture_output=True, text=True, check=True).stdout)
    ours_farm = [c for c in ours if is_farm(c, listeners)]
    keepalive = sum(1 for c in ours_farm if c["timer"] == "keepalive")
    no_keepalive = sum(1 for c in ours_farm if c["noKeepalive"] is True)

    owned = json.loads(subprocess.run(cli + ["connections", "--json", "--include-process"], capture_output=True, text=True, check=True).stdout)
    owned_farm = [c for c in owned if is_farm(c, listeners)]
    by_worker = sum(1 for c in owned_farm if c["owningProcess"] in workers)

    checks = [
        ("ss -tan, farm sockets", ss_farm, expected),
        ("pskeepalive connections --json, farm sockets", len(ours_farm), expected),
        ("  with the keepalive timer", keepalive, farm["keepalive_sockets"]),
        ("  noKeepalive: true", no_keepalive, farm["no_keepalive_sockets"]),
        ("--include-process, farm sockets", len(owned_farm), expected),
        ("  owned by a farm process", by_worker, expected),
    ]
    ok = True
    print(f"farm: {farm['pairs']} pairs in {farm['processes']} processes, {expected} sockets "
          f"({farm['established_sockets']} established + {farm['listening_sockets']} listeners)")
    for what, got, want in checks:
        status = "ok" if got == want else "MISMATCH"
        ok = ok and got == want
        print(f"{what}: {got} (expected {want}) {status}")
    print(f"all sockets on the host: ss -tan {len(ss_lines)}, pskeepalive {len(ours)} (others' sockets come and go)")
    print("OK" if ok else "MISMATCH")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
