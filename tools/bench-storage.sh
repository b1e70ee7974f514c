#!/usr/bin/env bash
# Storage benchmark: OMSMySQL pool vs the bare C client (mysqlslap, MariaDB Connector/C) on the same server,
# same table, same statements, same concurrency (1 and 32), back to back in one run.
#
#   tools/bench-storage.sh            # 5 s per measurement
#   OMS_BENCH_SECONDS=10 tools/bench-storage.sh
#
# Needs `tools/oms-env.sh start` and an optimised build of the tests (OMSMySQLTests uses @testable):
#   swift build -c release --build-tests -Xswiftc -enable-testing
# OMS_BENCH_CONFIG=debug measures the debug build instead (much slower Swift side; not representative).
# Prints a markdown table with throughputs and the ratio C/Swift.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
ENV_FILE="${OMS_ENV_FILE:-$ROOT/.oms/env}"
[ -r "$ENV_FILE" ] || { echo "bench-storage: $ENV_FILE missing; run tools/oms-env.sh start" >&2; exit 1; }
ADMIN_URL="$(grep '^OMS_MYSQL_ADMIN_URL=' "$ENV_FILE" | cut -d= -f2-)"
# mysql://user:pass@host:port/db
rest="${ADMIN_URL#mysql://}"; userinfo="${rest%@*}"; hostpart="${rest##*@}"; hostport="${hostpart%%/*}"
DB_USER="${userinfo%%:*}"; DB_PASS="${userinfo#*:}"; DB_HOST="${hostport%:*}"; DB_PORT="${hostport##*:}"
export MYSQL_PWD="$DB_PASS"   # keeps the password off the command line
SECONDS_PER="${OMS_BENCH_SECONDS:-5}"
ROWS="${OMS_BENCH_ROWS:-10000}"
SCHEMA="oms_inventory_bench$$"
CLI=(mariadb --no-defaults -h "$DB_HOST" -P "$DB_PORT" -u "$DB_USER")
SLAP=(mariadb-slap --no-defaults -h "$DB_HOST" -P "$DB_PORT" -u "$DB_USER")
command -v mariadb-slap >/dev/null || SLAP=(mysqlslap --no-defaults -h "$DB_HOST" -P "$DB_PORT" -u "$DB_USER")
WORK="$(mktemp -d)"
cleanup() { "${CLI[@]}" -e "DROP DATABASE IF EXISTS \`$SCHEMA\`" || true; rm -rf "$WORK"; }
trap cleanup EXIT

"${CLI[@]}" -e "CREATE DATABASE \`$SCHEMA\`; USE \`$SCHEMA\`;
  CREATE TABLE \`$SCHEMA\`.bench (id BIGINT NOT NULL PRIMARY KEY, n BIGINT NOT NULL, pad VARCHAR(100) NOT NULL) ENGINE=InnoDB;
  INSERT INTO \`$SCHEMA\`.bench SELECT seq, 0, REPEAT('x', 60) FROM seq_1_to_$ROWS;"

# The C client: mysqlslap (Connector/C, text protocol), one connection per concurrent client, each running
# the same statements with random ids from a generated file. Rate = statements / wall seconds.
c_rate() { # name concurrency statements-per-client
    local name="$1" conc="$2" per_client="$3" file="$WORK/$1.sql" total start end
    python3 - "$name" "$ROWS" "$per_client" > "$file" <<'PY'
import random, sys
name, rows, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for _ in range(n):
    i = random.randint(1, rows)
    if name == "update":
        print(f"UPDATE bench SET n = n + 1 WHERE id = {i};")
    else:
        print(f"SELECT id, n, pad FROM bench WHERE id = {i};")
PY
    total=$(( per_client * conc ))
    start=$(date +%s.%N)
    "${SLAP[@]}" --create-schema="$SCHEMA" --concurrency="$conc" --iterations=1 --query="$file" --delimiter=";" \
        --number-of-queries="$total" --silent >/dev/null
    end=$(date +%s.%N)
    python3 -c "print(int($total / ($end - $start)))"
}

# Rounds alternate Swift and C so background load hits both alike; the table shows medians.
ROUNDS="${OMS_BENCH_ROUNDS:-3}"
results="$WORK/results.txt"
: > "$results"
for round in $(seq 1 "$ROUNDS"); do
    echo "bench-storage: round $round/$ROUNDS: OMSMySQL pool ..." >&2
    OMS_BENCH=1 OMS_BENCH_SCHEMA="$SCHEMA" OMS_BENCH_SECONDS="$SECONDS_PER" OMS_BENCH_ROWS="$ROWS" \
        swift test -c "${OMS_BENCH_CONFIG:-release}" --skip-build --filter 'StorageBenchmark' > "$WORK/swift.log" 2>&1 \
        || { tail -30 "$WORK/swift.log" >&2; exit 1; }
    grep '^BENCH' "$WORK/swift.log" | sed -E 's/^BENCH name=([a-z_]+) concurrency=([0-9]+) .*rate=([0-9]+).*/swift \1 \2 \3/' >> "$results"
    echo "bench-storage: round $round/$ROUNDS: C client (mysqlslap) ..." >&2
    for name in point_select update; do
        for conc in 1 32; do
            s=$(grep "^swift $name $conc " "$results" | tail -1 | cut -d' ' -f4)
            # Size the C run to take about as long as the Swift one.
            per=$(( s * SECONDS_PER / conc )); [ "$per" -lt 200 ] && per=200
            echo "c $name $conc $(c_rate "$name" "$conc" "$per")" >> "$results"
        done
    done
done

python3 - "$results" "$ROUNDS" "$SECONDS_PER" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
def med(kind, name, conc):
    v = [int(r[3]) for r in rows if r[0] == kind and r[1] == name and r[2] == conc]
    return int(statistics.median(v)), v
print(f"rounds: {sys.argv[2]}, {sys.argv[3]} s per Swift measurement; medians (all samples in brackets)\n")
print("| statement | callers | OMSMySQL (ops/s) | C client mysqlslap (ops/s) | C / Swift |")
print("|---|---:|---:|---:|---:|")
for name in ("point_select", "update"):
    for conc in ("1", "32"):
        s, sv = med("swift", name, conc)
        c, cv = med("c", name, conc)
        print(f"| {name} | {conc} | {s} {sv} | {c} {cv} | {c / max(s, 1):.2f} |")
PY
