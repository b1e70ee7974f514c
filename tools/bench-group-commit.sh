#!/usr/bin/env bash
# `make bench-group-commit` (after build-release): what group commit buys, measured side by side in
# one run on this machine. The same release binaries run the same checkout-only load twice per
# round, once with every group commit off (write-batch-size 1 for checkout, orders and payments,
# reserve-batch-size 1 for inventory) and once at the defaults; each run is tools/bench-cpu.sh
# (CPU per placed order per process, statements, commits, fsyncs and RPC calls per placed order,
# batch sizes). Rounds alternate off/on so drift on a shared machine hits both alike.
#
#   tools/bench-group-commit.sh                 # 2 rounds, 128 callers, 15 s per run
#   OMS_BENCH_ROUNDS=3 OMS_BENCH_CALLERS=64 OMS_BENCH_SECONDS=20 tools/bench-group-commit.sh
#
# Prints every run and a summary (placed orders/s and CPU ms per order, off vs on, and the ratio);
# the figures go to docs/benchmarks.md ("Group commit") by hand, with the date and the commit.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
ROUNDS="${OMS_BENCH_ROUNDS:-2}"
BIN="${OMS_BIN:-$(swift build -c release --show-bin-path)}"
[ -x "$BIN/oms-checkout" ] || { echo "bench-group-commit: $BIN/oms-checkout is not built; run make build-release" >&2; exit 3; }
OUT="$ROOT/.oms/bench/group-commit-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$OUT"
log() { printf 'bench-group-commit: %s\n' "$*" >&2; }

run() { # label, then the environment for the suite
    local label="$1"; shift
    log "$label: restarting the suite ($*)"
    env "$@" tools/oms-suite.sh restart release >/dev/null
    OMS_BIN="$BIN" OMS_BENCH_CATALOG="gcbench-" tools/bench-cpu.sh | tee "$OUT/$label.txt"
}

for round in $(seq 1 "$ROUNDS"); do
    run "off-$round" OMS_WRITE_BATCH_SIZE=1 OMS_INVENTORY_RESERVE_BATCH_SIZE=1
    run "on-$round" OMS_WRITE_BATCH_SIZE= OMS_INVENTORY_RESERVE_BATCH_SIZE=
done
tools/oms-suite.sh restart release >/dev/null

/usr/bin/python3 - "$OUT" "$ROUNDS" <<'PY'
import re, sys
out, rounds = sys.argv[1], int(sys.argv[2])
def figures(label):
    text = open(f"{out}/{label}.txt").read()
    rate = float(re.search(r"placed \d+ \(([\d.]+) /s\)", text).group(1))
    cpu = float(re.search(r"^total\s+[\d.]+ s CPU\s+([\d.]+) ms", text, re.M).group(1))
    per = re.search(r"per placed order: ([\d.]+) statements, [\d.]+ engine commits \(reads included\) ([\d.]+) COMMIT "
                    r"statements, ([\d.]+) InnoDB fsyncs, ([\d.]+) RPC", text)
    return rate, cpu, [float(x) for x in per.groups()] if per else None
print("\n| round | off: placed/s | on: placed/s | on ÷ off | off: CPU ms/order | on: CPU ms/order | off ÷ on |")
print("|---|---|---|---|---|---|---|")
for r in range(1, rounds + 1):
    (ro, co, _), (rn, cn, _) = figures(f"off-{r}"), figures(f"on-{r}")
    print(f"| {r} | {ro:.1f} | {rn:.1f} | {rn / ro:.2f}× | {co:.2f} | {cn:.2f} | {co / cn:.2f}× |")
PY
log "runs kept in $OUT"
