#!/usr/bin/env python3
"""Work counters of a running suite, for per-order figures (tools/bench-cpu.sh, docs/benchmarks.md).

  tools/suite-counters.py snapshot > before.json
  tools/suite-counters.py diff before.json after.json PLACED

`snapshot` reads MariaDB's global status (statements, commits, InnoDB fsyncs) through the admin
URL in OMS_MYSQL_ADMIN_URL, and every service's /metrics (RPC calls served, and the batch-size
histograms of the group commits). `diff` prints what one placed order cost between two snapshots,
and the distribution of batch sizes.
"""
import json
import os
import re
import subprocess
import sys
import urllib.parse
import urllib.request

SERVICES = {"checkout": 0, "inventory": 1, "orders": 2, "payments": 3, "shipments": 4}
STATUS = ("Questions", "Com_commit", "Handler_commit", "Innodb_data_fsyncs")
SAMPLE = re.compile(r'^([a-z_]+)(?:\{([^}]*)\})? ([0-9.e+-]+)$')


def mysql_status():
    url = urllib.parse.urlsplit(os.environ["OMS_MYSQL_ADMIN_URL"])
    names = ",".join(f"'{n}'" for n in STATUS)
    out = subprocess.run(
        ["mariadb", "-h", url.hostname, "-P", str(url.port), "-u", urllib.parse.unquote(url.username),
         "-N", "-B", "-e", f"SHOW GLOBAL STATUS WHERE Variable_name IN ({names})"],
        env={**os.environ, "MYSQL_PWD": urllib.parse.unquote(url.password or "")},
        check=True, capture_output=True, text=True).stdout
    return {name: int(value) for name, value in (line.split("\t") for line in out.splitlines())}


def metrics(service, offset):
    port = os.environ.get(f"OMS_{service.upper()}_METRICS_PORT", str(9100 + offset))
    try:
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    except OSError:
        return {}
    out = {}
    for line in text.splitlines():
        m = SAMPLE.match(line)
        if not m:
            continue
        name, labels, value = m.group(1), m.group(2) or "", float(m.group(3))
        if name == "rpc_server_calls_total" and "Health/Check" not in labels:
            out["rpc_calls"] = out.get("rpc_calls", 0) + value
        elif name.endswith("_batch_size_bucket") or name.endswith("_batch_size_count"):
            out[f"{name}{{{labels}}}"] = value
    return out


def snapshot():
    return {"mysql": mysql_status(), "services": {s: metrics(s, o) for s, o in SERVICES.items()}}


def diff(before, after, placed):
    placed = max(placed, 1)
    m0, m1 = before["mysql"], after["mysql"]
    d = {k: m1[k] - m0[k] for k in STATUS}
    rpc = sum(after["services"][s].get("rpc_calls", 0) - before["services"][s].get("rpc_calls", 0) for s in SERVICES)
    print(f"per placed order: {d['Questions'] / placed:.1f} statements, {d['Handler_commit'] / placed:.2f} engine commits (reads included) "
          f"{d['Com_commit'] / placed:.2f} COMMIT statements, {d['Innodb_data_fsyncs'] / placed:.2f} "
          f"InnoDB fsyncs, {rpc / placed:.2f} RPC calls served")
    for s in SERVICES:
        a, b = after["services"][s], before["services"][s]
        counts = sorted(k for k in a if "_batch_size_count" in k)
        for key in counts:
            op = key[key.index("{"):]
            batches = a[key] - b.get(key, 0)
            if batches <= 0:
                continue
            prefix = key[: key.index("_count")]
            buckets = []
            for bk in sorted((k for k in a if k.startswith(prefix + "_bucket") and op[1:-1] in k),
                             key=lambda k: float(re.search(r'le="([^"]+)"', k).group(1).replace("+Inf", "inf"))):
                buckets.append((re.search(r'le="([^"]+)"', bk).group(1), a[bk] - b.get(bk, 0)))
            shown, last = [], 0
            for le, cum in buckets:
                if cum - last > 0:
                    shown.append(f"≤{le}: {int(cum - last)}")
                last = cum
            print(f"  {prefix}{op}: {int(batches)} batches; " + ", ".join(shown))


def main():
    if len(sys.argv) >= 2 and sys.argv[1] == "snapshot":
        json.dump(snapshot(), sys.stdout)
        return 0
    if len(sys.argv) == 5 and sys.argv[1] == "diff":
        with open(sys.argv[2]) as b, open(sys.argv[3]) as a:
            diff(json.load(b), json.load(a), int(sys.argv[4]))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
