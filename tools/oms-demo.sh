#!/usr/bin/env bash
# What `make run` shows once the suite is up (tools/oms-suite.sh restart release): the services'
# health, a short flash sale (5,000 buyers for 500 units, 10 % declined cards, multi-unit carts) and a
# short mixed run (Zipf catalog, browsing and order-history reads alongside checkouts) with the
# in-process baseline, each followed by the invariant audit. Exits non-zero when an audit fails.
#
#   tools/oms-demo.sh [debug|release]     (default release; OMS_DEMO_* variables tune the sizes)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CONFIG="${1:-${OMS_DEMO_CONFIG:-release}}"
BUYERS="${OMS_DEMO_BUYERS:-5000}"
UNITS="${OMS_DEMO_UNITS:-500}"
MIXED_SECONDS="${OMS_DEMO_MIXED_SECONDS:-20}"
CATALOG="${OMS_DEMO_CATALOG:-2000}"
cd "$ROOT"
BIN="${OMS_BIN:-$(swift build -c "$CONFIG" --show-bin-path)}"
for tool in omsctl oms-loadgen; do
    [ -x "$BIN/$tool" ] || { echo "oms-demo: $BIN/$tool is not built; run make build-release" >&2; exit 3; }
done
OUT="$ROOT/.oms/loadgen"
mkdir -p "$OUT"

echo
echo "== services =="
"$BIN/omsctl" health

status=0
echo
echo "== flash sale: $BUYERS buyers for $UNITS units of one SKU (200 at a time) =="
"$BIN/oms-loadgen" flash-sale --buyers "$BUYERS" --units "$UNITS" --decline-rate 0.1 --max-quantity 3 \
    --concurrency 200 --timeout 30 --json-out "$OUT/demo-flash-sale.json" || status=$?

echo
echo "== mixed: ${MIXED_SECONDS}s over a $CATALOG-SKU catalog, 64 callers, then the in-process baseline =="
"$BIN/oms-loadgen" mixed --duration "$MIXED_SECONDS" --catalog-size "$CATALOG" --concurrency 64 \
    --baseline-seconds 10 --json-out "$OUT/demo-mixed.json" || { s=$?; [ "$status" -ne 0 ] || status=$s; }

echo
if [ "$status" -eq 0 ]; then
    echo "oms-demo: every audit passed. Results: $OUT/demo-*.json. Try: $BIN/omsctl order search --status confirmed"
else
    echo "oms-demo: a run or an audit failed (exit $status); see above and .oms/run/*.log" >&2
fi
exit "$status"
