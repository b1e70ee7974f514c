#!/usr/bin/env bash
# Fault injection under load (docs/operations.md, "Fault runs"): the five services, MariaDB and Redis
# run under OMS_HOME; oms-loadgen drives checkouts from many callers while this script injects faults
# at random; then the load generator waits for every checkout to end (the recovery window) and
# audits the history and the databases: no oversell, stock conserved, every placed order confirmed
# with its authorization, nothing orphaned, every checkout finished within the window.
#
#   tools/chaos.sh                      60 s of load, 32 callers, 120 s recovery window
#   CHAOS_SECONDS=20 tools/chaos.sh     the short run of `make test` (make chaos-smoke)
#
# Faults, one every 3 to 6 s: kill -9 of a random service (restarted at once), SIGSTOP of a service
# for 2 s, kill -9 of mariadbd (restarted; InnoDB recovers), Redis FLUSHALL, kill -9 of Redis
# (restarted empty). Settings (environment): CHAOS_SECONDS, CHAOS_CALLERS, CHAOS_WINDOW, CHAOS_SEED,
# CHAOS_CONFIG (debug|release), CHAOS_KEEP=1 (leave the suite and servers running afterwards),
# CHAOS_HOME (default .oms-chaos), CHAOS_MYSQL_PORT (3327), CHAOS_REDIS_PORT (6400): a fault run
# never touches the development databases.
# Exit status: the load generator's (0 when the audit passed).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export OMS_HOME="${CHAOS_HOME:-$ROOT/.oms-chaos}"
# Its own ports, whatever the development environment uses (OMS_MYSQL_PORT, OMS_REDIS_PORT).
export OMS_MYSQL_PORT="${CHAOS_MYSQL_PORT:-3327}"
export OMS_REDIS_PORT="${CHAOS_REDIS_PORT:-6400}"
LOAD_SECONDS="${CHAOS_SECONDS:-60}"
CALLERS="${CHAOS_CALLERS:-32}"
WINDOW="${CHAOS_WINDOW:-120}"
SEED="${CHAOS_SEED:-$((RANDOM * 32768 + RANDOM))}"
CONFIG="${CHAOS_CONFIG:-debug}"
SERVICES=(inventory orders payments shipments checkout)

log() { printf 'chaos: %s\n' "$*" >&2; }
pid_of() { [ -f "$1" ] && cat "$1" 2>/dev/null || true; }

cd "$ROOT"
stop_all() {
    [ "${CHAOS_KEEP:-0}" = 1 ] && return
    "$ROOT/tools/oms-suite.sh" stop >/dev/null 2>&1 || true
    "$ROOT/tools/oms-env.sh" stop >/dev/null 2>&1 || true
}
trap stop_all EXIT
"$ROOT/tools/oms-env.sh" start
# The suite's own variables (ports of this OMS_HOME's servers, secrets) for the services and tools.
set -a
# shellcheck disable=SC1091
. "$OMS_HOME/env"
# shellcheck disable=SC1091
. "$OMS_HOME/secrets.env"
set +a
"$ROOT/tools/oms-suite.sh" start "$CONFIG"
BIN="$(swift build -c "$CONFIG" --show-bin-path)"
OUT="$OMS_HOME/chaos/$(date +%Y%m%d-%H%M%S)"
mkdir -p "$OUT"
RANDOM=$((SEED % 32768))
log "seed $SEED; $LOAD_SECONDS s of load from $CALLERS callers; recovery window $WINDOW s; results in $OUT"

"$BIN/oms-loadgen" mixed --seed "$SEED" --duration "$LOAD_SECONDS" --concurrency "$CALLERS" \
    --catalog-size 200 --stock-per-sku 100000 --recovery-window "$WINDOW" --max-error-rate 0.9 --baseline-seconds 0 \
    --json-out "$OUT/result.json" --no-progress >"$OUT/loadgen.log" 2>&1 &
LOADGEN=$!

restart_suite() { "$ROOT/tools/oms-suite.sh" start "$CONFIG" >>"$OUT/restarts.log" 2>&1 || true; }
restart_servers() { "$ROOT/tools/oms-env.sh" start >>"$OUT/restarts.log" 2>&1 || true; }
fault() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*" >>"$OUT/faults.log"; log "fault: $*"; }

FAULTS=0
START=$(date +%s)
# Faults while the load runs; the last seconds of load are left alone so the run ends settled.
sleep 5
while kill -0 "$LOADGEN" 2>/dev/null && [ $(( $(date +%s) - START )) -lt $((LOAD_SECONDS - 5)) ]; do
    service="${SERVICES[$((RANDOM % ${#SERVICES[@]}))]}"
    case $((RANDOM % 6)) in
        0|1)
            fault "kill -9 oms-$service"
            kill -KILL "$(pid_of "$OMS_HOME/run/$service.pid")" 2>/dev/null || true
            sleep 0.5
            restart_suite ;;
        2)
            fault "SIGSTOP oms-$service for 2 s"
            pid="$(pid_of "$OMS_HOME/run/$service.pid")"
            kill -STOP "$pid" 2>/dev/null || true
            sleep 2
            kill -CONT "$pid" 2>/dev/null || true ;;
        3)
            fault "kill -9 mariadbd, restart"
            kill -KILL "$(pid_of "$OMS_HOME/mysql/mysqld.pid")" 2>/dev/null || true
            sleep 1
            restart_servers ;;
        4)
            fault "Redis FLUSHALL"
            redis-cli -p "$OMS_REDIS_PORT" -a "$OMS_REDIS_PASSWORD" --no-auth-warning FLUSHALL >/dev/null 2>&1 || true ;;
        5)
            fault "kill -9 Redis, restart empty"
            kill -KILL "$(pid_of "$OMS_HOME/redis/redis.pid")" 2>/dev/null || true
            sleep 0.5
            restart_servers ;;
    esac
    FAULTS=$((FAULTS + 1))
    sleep $((3 + RANDOM % 4))
done
# Everything back up for the recovery window and the audit.
restart_servers
restart_suite

STATUS=0
wait "$LOADGEN" || STATUS=$?
log "$FAULTS faults injected (see $OUT/faults.log); load generator exit status $STATUS"
tail -n 40 "$OUT/loadgen.log" >&2
exit "$STATUS"
