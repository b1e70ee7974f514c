#!/usr/bin/env bash
# `make bench` (after build-release): benchmarks of the whole suite on this machine, written into
# docs/benchmarks.md between the bench markers.
#
#  1. mixed, closed loop at several concurrencies: checkouts/s and placed orders/s at saturation;
#  2. mixed, open loop at 80 % of the saturated operation rate: p50/p99 checkout latency;
#  3. checkout-only, closed loop, then the in-process baseline with the same callers: suite/baseline;
#  4. flash sale: time to sell out and rejections/s.
# Every run is audited (exit non-zero when an audit fails). All load stays on loopback and is bounded:
# OMS_BENCH_SECONDS per run (default 20), OMS_BENCH_LEVELS concurrencies (default "32 96 256"),
# OMS_BENCH_FLASH_BUYERS / OMS_BENCH_FLASH_UNITS (default 10000 / 1000).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
SECS="${OMS_BENCH_SECONDS:-20}"
LEVELS="${OMS_BENCH_LEVELS:-32 96 256}"
FLASH_BUYERS="${OMS_BENCH_FLASH_BUYERS:-10000}"
FLASH_UNITS="${OMS_BENCH_FLASH_UNITS:-1000}"
PY=/usr/bin/python3
# OMS_BIN: where the release binaries are (default: SwiftPM's release bin path).
BIN="${OMS_BIN:-$(swift build -c release --show-bin-path)}"
for tool in omsctl oms-loadgen oms-checkout; do
    [ -x "$BIN/$tool" ] || { echo "bench: $BIN/$tool is not built; run make build-release" >&2; exit 3; }
done
OUT="$ROOT/.oms/bench/$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$OUT"
log() { printf 'bench: %s\n' "$*" >&2; }

# The suite, in release mode, freshly started (OMS_BENCH_RESTART=0: use the suite already running).
if [ "${OMS_BENCH_RESTART:-1}" != 0 ]; then
    tools/oms-suite.sh restart release
fi
"$BIN/omsctl" health --quiet || { log "the suite is not healthy"; exit 3; }

CAT="lgbench$(date +%s)-"
status=0
run() { # name, args...
    local name="$1"; shift
    log "$name: oms-loadgen $*"
    "$BIN/oms-loadgen" "$@" --no-progress --quiet --json-out "$OUT/$name.json" > "$OUT/$name.txt" 2>&1 \
        || { local s=$?; log "$name exited $s (see $OUT/$name.txt)"; [ "$status" -ne 0 ] || status=$s; }
    tail -n 30 "$OUT/$name.txt" >&2
}
field() { "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2], {}, {"d": d}))' "$1" "$2"; }

# 1. Saturation.
best=""; best_placed=0
for c in $LEVELS; do
    run "mixed-c$c" mixed --catalog-prefix "$CAT" --concurrency "$c" --duration "$SECS" --baseline-seconds 0
    [ -f "$OUT/mixed-c$c.json" ] || continue
    p="$(field "$OUT/mixed-c$c.json" 'd["placed_per_second"]')"
    if "$PY" -c "import sys; sys.exit(0 if float('$p') > float('$best_placed') else 1)"; then best="$c"; best_placed="$p"; fi
done
[ -n "$best" ] || { log "no saturation run produced a result"; exit 1; }
ops="$(field "$OUT/mixed-c$best.json" 'd["checkouts_per_second"] + d["reads_per_second"]')"
rate80="$("$PY" -c "print(round(0.8 * float('$ops'), 1))")"

# 2. Latency at 80 % of saturation.
run mixed-80pct mixed --catalog-prefix "$CAT" --rate "$rate80" --duration "$SECS" --baseline-seconds 0

# 3. Checkout-only saturation and the in-process baseline with the same callers.
run checkout-only mixed --catalog-prefix "$CAT" --checkout-share 1 --concurrency "$best" --duration "$SECS" \
    --baseline-seconds "$SECS"

# 4. Flash sale: every buyer at once (up to 1,000 callers), and the same sale through 100 callers.
run flash-sale flash-sale --buyers "$FLASH_BUYERS" --units "$FLASH_UNITS" --decline-rate 0.1 --concurrency 1000
run flash-sale-c100 flash-sale --buyers "$FLASH_BUYERS" --units "$FLASH_UNITS" --decline-rate 0.1 --concurrency 100

# 5. CPU time per placed order, per process (what limits the suite on this box).
log "cpu: tools/bench-cpu.sh with $best callers"
OMS_BENCH_CALLERS="$best" OMS_BENCH_SECONDS="$SECS" OMS_BENCH_CATALOG="$CAT" OMS_BIN="$BIN" tools/bench-cpu.sh \
    > "$OUT/cpu.txt" 2>&1 || log "cpu measurement failed (see $OUT/cpu.txt)"
cat "$OUT/cpu.txt" >&2

# Figures into docs/benchmarks.md (between the markers; the rest of the file is prose).
"$PY" - "$OUT" "$best" "$LEVELS" "$SECS" <<'PYEOF'
import json, os, platform, subprocess, sys, datetime
out, best, levels, secs = sys.argv[1], sys.argv[2], sys.argv[3].split(), sys.argv[4]
def load(name):
    try:
        return json.load(open(os.path.join(out, name + ".json")))
    except Exception:
        return None
def audit(d):
    if d is None: return "no result"
    a = d.get("audit")
    if a is None: return "skipped"
    failed = [c["name"] for c in a["checks"] if c["violation_count"] > 0]
    return "passed" if not failed else "FAILED: " + ", ".join(failed)
def f(x, n=1): return ("%." + str(n) + "f") % x
rows = []
rows.append("| run | callers / rate | checkouts/s | placed orders/s | reads/s | checkout p50 ms | p99 ms | errors | audit |")
rows.append("|---|---|---|---|---|---|---|---|---|")
for c in levels:
    d = load("mixed-c" + c)
    if d is None: continue
    rows.append("| mixed (saturation%s) | %s callers | %s | %s | %s | %s | %s | %d | %s |" % (
        ", best" if c == best else "", c, f(d["checkouts_per_second"]), f(d["placed_per_second"]), f(d["reads_per_second"]),
        f(d["checkout_latency_ms"]["p50"], 2), f(d["checkout_latency_ms"]["p99"], 2), d["counts"]["errors"] + d["counts"]["dropped"], audit(d)))
d = load("mixed-80pct")
if d:
    rows.append("| mixed at 80 %% of saturation | %s ops/s open loop | %s | %s | %s | %s | %s | %d | %s |" % (
        d["parameters"].get("rate", d["mode"]), f(d["checkouts_per_second"]), f(d["placed_per_second"]), f(d["reads_per_second"]),
        f(d["checkout_latency_ms"]["p50"], 2), f(d["checkout_latency_ms"]["p99"], 2), d["counts"]["errors"] + d["counts"]["dropped"], audit(d)))
d = load("checkout-only")
ratio = ""
if d:
    rows.append("| checkout only | %s callers | %s | %s | - | %s | %s | %d | %s |" % (
        best, f(d["checkouts_per_second"]), f(d["placed_per_second"]), f(d["checkout_latency_ms"]["p50"], 2),
        f(d["checkout_latency_ms"]["p99"], 2), d["counts"]["errors"], audit(d)))
    b = d.get("baseline")
    if b:
        rows.append("| in-process baseline | %d callers, one pool | %s | %s | - | %s | %s | %d | - |" % (
            b["concurrency"], f(b["checkouts"] / b["seconds"]), f(b["placed_per_second"]), f(b["latency_ms"]["p50"], 2),
            f(b["latency_ms"]["p99"], 2), b["errors"]))
        if d.get("suite_over_baseline") is not None:
            ratio = "**suite / baseline = %s×** (placed orders/s; the baseline's callers are capped at its pool of 64)." % f(d["suite_over_baseline"], 2)
flash = ["| buyers | callers | units | placed (answered / in log) | units sold (answered) | sold out | time to sell out s | first out-of-stock s | rejections/s | declined | out of stock | errors | checkout p99 ms | audit |",
         "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
for fs in [load("flash-sale"), load("flash-sale-c100")]:
    if not fs: continue
    flash.append("| %s | %s | %s | %d / %s | %d | %s | %s | %s | %s | %d | %d | %d | %s | %s |" % (
        fs["parameters"]["buyers"], fs["parameters"].get("concurrency", "?"), fs["parameters"]["units"], fs["counts"]["placed"],
        fs.get("placed_in_log", "?"), fs["placed_units"],
        "yes" if fs["sold_out"] else "no",
        f(fs["time_to_sell_out_seconds"], 2) if fs.get("time_to_sell_out_seconds") is not None else "-",
        f(fs["first_out_of_stock_seconds"], 2) if fs.get("first_out_of_stock_seconds") is not None else "-",
        f(fs["rejections_per_second"]), fs["counts"]["declined"], fs["counts"]["out_of_stock"], fs["counts"]["errors"],
        f(fs["checkout_latency_ms"]["p99"], 2), audit(fs)))
cpu = ["| process | CPU s | ms of CPU per placed order |", "|---|---:|---:|"]
try:
    for line in open(os.path.join(out, "cpu.txt")):
        parts = line.split()
        if len(parts) >= 6 and parts[2] == "s" and parts[3] == "CPU":
            name = "**total**" if parts[0] == "total" else parts[0]
            cpu.append("| %s | %s | %s |" % (name, parts[1], parts[4]))
except Exception:
    cpu = []
def sh(cmd):
    try: return subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=10).stdout.strip()
    except Exception: return "?"
env = "%s, %s CPU(s), %s; MariaDB %s; commit %s" % (
    platform.platform(), os.cpu_count(), sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2").strip(),
    sh("mariadb --version | sed 's/.*Distrib //; s/,.*//'"), sh("git rev-parse --short HEAD"))
body = ["<!-- bench:begin (written by tools/bench.sh; edit outside the markers) -->",
        "Measured %s UTC on %s. Raw results: `%s`. %s s per run." % (
            datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M"), env, os.path.relpath(out), secs),
        "", "#### Throughput and latency (mixed workload)", ""] + rows + ["", ratio, "", "#### Flash sale", ""] + flash + (
        ["", "#### CPU per placed order (checkout only, %s callers; `tools/bench-cpu.sh`)" % best, ""] + cpu if len(cpu) > 2 else []) + [
        "<!-- bench:end -->"]
path = "docs/benchmarks.md"
text = open(path).read() if os.path.exists(path) else "# Suite benchmarks\n\n<!-- bench:begin -->\n<!-- bench:end -->\n"
b, e = text.find("<!-- bench:begin"), text.find("<!-- bench:end -->")
if b < 0 or e < 0:
    text = text.rstrip() + "\n\n" + "\n".join(body) + "\n"
else:
    text = text[:b] + "\n".join(body) + text[e + len("<!-- bench:end -->"):]
open(path, "w").write(text)
print("\n".join(body))
PYEOF
log "figures written to docs/benchmarks.md (raw: $OUT)"
exit "$status"
