#!/usr/bin/env bash
# CPU cost of a placed order, per process: runs checkout-only load against the running suite (release
# build; `make up` or tools/oms-suite.sh restart release) and divides each process's CPU time (user +
# system, from /proc/<pid>/stat) over the run by the orders placed. Shows which process limits the
# suite on this machine; method and figures in docs/benchmarks.md ("CPU per placed order"). With it,
# tools/suite-counters.py gives statements, commits, fsyncs and RPC calls per placed order and the
# distribution of group-commit batch sizes (needs the suite's environment: OMS_MYSQL_ADMIN_URL).
#
#   tools/bench-cpu.sh                 # 128 callers, 15 s
#   OMS_BENCH_CALLERS=8 OMS_BENCH_SECONDS=30 tools/bench-cpu.sh
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
OMS_HOME="${OMS_HOME:-$ROOT/.oms}"
if [ -z "${OMS_MYSQL_ADMIN_URL:-}" ] && [ -f "$OMS_HOME/env" ]; then
    set -a
    # shellcheck disable=SC1091
    . "$OMS_HOME/env"
    set +a
fi
CALLERS="${OMS_BENCH_CALLERS:-128}"
SECS="${OMS_BENCH_SECONDS:-15}"
CATALOG="${OMS_BENCH_CATALOG:-cpubench-}"
BIN="${OMS_BIN:-$(swift build -c release --show-bin-path)}"
[ -x "$BIN/oms-loadgen" ] || { echo "bench-cpu: $BIN/oms-loadgen is not built; run make build-release" >&2; exit 3; }
OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT

# CPU seconds × CLK_TCK per process name (summed over processes of one name).
snapshot() {
    for pid in $(pgrep -f 'mariadbd|redis-server|oms-(checkout|inventory|orders|payments|shipments)( |$)' || true); do
        [ -r "/proc/$pid/stat" ] || continue
        # Fields 14 and 15 (utime, stime) counted after the ")" that ends the command name.
        printf '%s %s\n' "$(cat "/proc/$pid/comm")" "$(sed 's/.*) //' "/proc/$pid/stat" | awk '{print $12 + $13}')"
    done | awk '{t[$1] += $2} END {for (k in t) print k, t[k]}' | sort
}

# Warm-up (creates the catalog once, fills caches and pools); not measured.
"$BIN/oms-loadgen" mixed --checkout-share 1.0 --concurrency "$CALLERS" --duration 3 --baseline-seconds 0 \
    --catalog-prefix "$CATALOG" --no-progress --quiet --no-audit --json-out "$OUT/warm.json" > "$OUT/warm.txt" 2>&1
snapshot > "$OUT/before"
/usr/bin/python3 "$ROOT/tools/suite-counters.py" snapshot > "$OUT/counters-before.json"
"$BIN/oms-loadgen" mixed --checkout-share 1.0 --concurrency "$CALLERS" --duration "$SECS" --baseline-seconds 0 \
    --catalog-prefix "$CATALOG" --no-progress --quiet --no-audit --json-out "$OUT/run.json" > "$OUT/run.txt" 2>&1
snapshot > "$OUT/after"
/usr/bin/python3 "$ROOT/tools/suite-counters.py" snapshot > "$OUT/counters-after.json"
placed="$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["counts"]["placed"])' "$OUT/run.json")"
grep -E '^checkouts' "$OUT/run.txt"
join "$OUT/before" "$OUT/after" | awk -v n="$placed" -v hz="$(getconf CLK_TCK)" '
    { d = ($3 - $2) / hz; total += d; printf "%-14s %8.2f s CPU  %7.2f ms per placed order\n", $1, d, (n > 0 ? d * 1000 / n : 0) }
    END { printf "%-14s %8.2f s CPU  %7.2f ms per placed order (%d placed, %d callers)\n", "total", total, (n > 0 ? total * 1000 / n : 0), n, '"$CALLERS"' }'
/usr/bin/python3 "$ROOT/tools/suite-counters.py" diff "$OUT/counters-before.json" "$OUT/counters-after.json" "$placed"
