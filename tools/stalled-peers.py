#!/usr/bin/env python3
"""Stalled-peer flood against one running service (issue 17, finding 7; docs/threat_model.md).

Opens PEERS connections with no token. Each announces a frame just under the unauthenticated
frame limit and sends all of it but the last byte, then stalls. While the peers hold, the script
samples the service's resident memory from /proc and runs PROBE (a command that must succeed:
an honest caller, e.g. `omsctl health --service inventory`). It then waits past the frame timeout
and counts the peers the server has closed.

  tools/stalled-peers.py --pid PID --port PORT [--peers 400] [--hold 12] [--budget-mib 64]
                         [--slack-mib 16] [--per-peer-kib 80] [--json-out FILE] [--probe 'CMD ...']

Pass/fail (exit 0/1): the resident-memory growth stays within the server's incomplete-frame budget
plus what any connection costs (a fixed slack for the runtime and about 80 KiB per peer for its
channel, read buffer and allocator overhead), every probe succeeds, and by the end of the hold
(past the 10 s frame timeout) the server has closed every stalled peer. At the defaults (400 peers,
64 MiB budget) the limit is 111 MiB, below the 125 MiB the same peers would pin without the budget
(400 × 256 KiB plus their connections), so the check fails when the budget does not hold. Before the bounds, 150
such peers with 4 MiB frames took one service from 37 MB to 663 MB.
"""
import argparse
import json
import shlex
import socket
import subprocess
import sys
import time

UNAUTHENTICATED_FRAME_LIMIT = 256 << 10


class ProcessGone(Exception):
    pass


def resident_bytes(pid):
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except FileNotFoundError:
        pass
    raise ProcessGone(f"process {pid} is not running")


def peer_closed(sock):
    """True once the server has closed the connection (it may send a connection error first)."""
    try:
        while True:
            data = sock.recv(65536, socket.MSG_DONTWAIT)
            if not data:
                return True
    except BlockingIOError:
        return False
    except OSError:
        return True


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--peers", type=int, default=400)
    ap.add_argument("--hold", type=float, default=12.0, help="seconds the peers stall (past the frame timeout)")
    ap.add_argument("--budget-mib", type=float, default=64.0, help="the server's incomplete-frame budget")
    ap.add_argument("--slack-mib", type=float, default=16.0, help="fixed allowance for the runtime")
    ap.add_argument("--per-peer-kib", type=float, default=80.0, help="allowance per connection")
    ap.add_argument("--probe", default="", help="command run while the peers stall; must exit 0")
    ap.add_argument("--json-out")
    args = ap.parse_args()

    announced = UNAUTHENTICATED_FRAME_LIMIT - 1
    payload = announced.to_bytes(4, "big") + b"\x0a" * (announced - 1)
    before = resident_bytes(args.pid)
    peak = before
    peers, connect_failures = [], 0
    for _ in range(args.peers):
        try:
            sock = socket.create_connection((args.host, args.port), timeout=5)
            sock.sendall(payload)
            peers.append(sock)
        except OSError:
            connect_failures += 1  # refused or reset: the server is shedding; that is allowed
        peak = max(peak, resident_bytes(args.pid))

    probes, probe_failures = 0, 0
    deadline = time.monotonic() + args.hold
    next_probe = time.monotonic()
    while time.monotonic() < deadline:
        peak = max(peak, resident_bytes(args.pid))
        if args.probe and time.monotonic() >= next_probe:
            probes += 1
            if subprocess.run(shlex.split(args.probe), stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, timeout=10).returncode != 0:
                probe_failures += 1
            next_probe = time.monotonic() + 2
        time.sleep(0.2)
    closed = sum(1 for sock in peers if peer_closed(sock))
    for sock in peers:
        sock.close()

    growth = peak - before
    limit = int((args.budget_mib + args.slack_mib) * (1 << 20) + args.per_peer_kib * 1024 * args.peers)
    result = {
        "peers": args.peers,
        "connected": len(peers),
        "connect_failures": connect_failures,
        "closed_by_server": closed,
        "announced_frame_bytes": announced,
        "rss_before_bytes": before,
        "rss_peak_bytes": peak,
        "rss_growth_bytes": growth,
        "growth_limit_bytes": limit,
        "probes": probes,
        "probe_failures": probe_failures,
    }
    result["passed"] = growth <= limit and probe_failures == 0 and closed == len(peers)
    text = json.dumps(result, indent=2)
    if args.json_out:
        with open(args.json_out, "w", encoding="utf-8") as out:
            out.write(text + "\n")
    print(f"stalled-peers: {len(peers)} of {args.peers} peers held {announced} bytes each; "
          f"resident {before >> 20} MiB -> peak {peak >> 20} MiB (growth {growth >> 20} MiB, limit {limit >> 20} MiB); "
          f"{closed} closed by the server; probes {probes - probe_failures}/{probes} answered; "
          f"{'passed' if result['passed'] else 'FAILED'}", file=sys.stderr)
    return 0 if result["passed"] else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except ProcessGone as gone:
        # The service died under the flood (or was not running): that fails the flood.
        print(f"stalled-peers: FAILED: {gone}", file=sys.stderr)
        sys.exit(1)
