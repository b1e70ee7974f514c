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
# Faults, one every 3 to 6 s: kill -9 of a random service (restarted at once); kill -9 at the worst
# moment (the service restarted with a test-only failpoint armed, which kills it with SIGKILL the
# first time it reaches that point, then restarted without it); SIGSTOP of a service for 2 s; kill -9
# of mariadbd (restarted; InnoDB recovers); Redis FLUSHALL; kill -9 of Redis (restarted empty).
# Once per run, half-way, a stalled-peer flood (tools/stalled-peers.py) against a random service:
# its memory figure is part of the result (flood.json) and its failure fails the run.
# Settings (environment): CHAOS_SECONDS, CHAOS_CALLERS, CHAOS_WINDOW, CHAOS_SEED,
# CHAOS_CONFIG (debug|release), CHAOS_KEEP=1 (leave the suite and servers running afterwards),
# CHAOS_HOME (default .oms-chaos), CHAOS_MYSQL_PORT (3327), CHAOS_REDIS_PORT (6400), CHAOS_PORT_BASE
# (7250): a fault run never touches the development databases or services. CHAOS_FULFIL (0.2): the
# share of placed orders the load ships (and half of those it returns), so the outboxes' captures,
# refunds and restocks run under the faults too.
# Exit status: 0 when the audit and the flood passed, else the load generator's status or 1.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export OMS_HOME="${CHAOS_HOME:-$ROOT/.oms-chaos}"
# Its own ports, whatever the development environment uses (OMS_MYSQL_PORT, OMS_REDIS_PORT).
export OMS_MYSQL_PORT="${CHAOS_MYSQL_PORT:-3327}"
export OMS_REDIS_PORT="${CHAOS_REDIS_PORT:-6400}"
# And its own service ports (RPC CHAOS_PORT_BASE+0…4, metrics +100…104), so a development suite on
# 7100…7104 can run beside it and never answers in its place.
upper() { printf '%s' "$1" | tr '[:lower:]' '[:upper:]'; }
PORT_BASE="${CHAOS_PORT_BASE:-7250}"
i=0
for s in checkout inventory orders payments shipments; do
    S="$(upper "$s")"
    export "OMS_${S}_PORT=$((PORT_BASE + i))" "OMS_${S}_METRICS_PORT=$((PORT_BASE + 100 + i))"
    export "OMS_${S}_ADDR=127.0.0.1:$((PORT_BASE + i))"
    i=$((i + 1))
done
LOAD_SECONDS="${CHAOS_SECONDS:-60}"
CALLERS="${CHAOS_CALLERS:-32}"
WINDOW="${CHAOS_WINDOW:-120}"
SEED="${CHAOS_SEED:-$((RANDOM * 32768 + RANDOM))}"
CONFIG="${CHAOS_CONFIG:-debug}"
SERVICES=(inventory orders payments shipments checkout)
# The worst moments (docs/operations.md, "Failpoints"): service and failpoint setting.
FAILPOINTS=(
    "payments crash-at:after-intent"
    "inventory crash-at:after-commit"
    "orders crash-at:after-create"
    "orders crash-at:outbox-after-delivery"
    "shipments crash-at:outbox-after-delivery"
    "checkout crash-at:after-reserve"
    "checkout crash-at:after-create-order"
    "checkout crash-at:after-authorize"
    "checkout crash-at:after-confirm-order"
)

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
    --fulfil-fraction "${CHAOS_FULFIL:-0.2}" --replay-sample 200 \
    --json-out "$OUT/result.json" --no-progress >"$OUT/loadgen.log" 2>&1 &
LOADGEN=$!

restart_suite() { "$ROOT/tools/oms-suite.sh" start "$CONFIG" >>"$OUT/restarts.log" 2>&1 || true; }
restart_servers() { "$ROOT/tools/oms-env.sh" start >>"$OUT/restarts.log" 2>&1 || true; }
fault() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*" >>"$OUT/faults.log"; log "fault: $*"; }
alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }

# Restarts SERVICE with FAILPOINT armed, waits up to 15 s for it to kill itself there, then restarts
# it without the failpoint (killing it first if the point was not reached).
arm_failpoint() {
    local service="$1" failpoint="$2" var pid i
    var="OMS_$(upper "$service")_FAILPOINT"
    kill -KILL "$(pid_of "$OMS_HOME/run/$service.pid")" 2>/dev/null || true
    sleep 0.3
    env "$var=$failpoint" "$ROOT/tools/oms-suite.sh" start "$CONFIG" >>"$OUT/restarts.log" 2>&1 || true
    pid="$(pid_of "$OMS_HOME/run/$service.pid")"
    for i in $(seq 1 75); do alive "$pid" || break; sleep 0.2; done
    if alive "$pid"; then
        printf '%s   %s %s not reached in 15 s; killed\n' "$(date +%H:%M:%S)" "$service" "$failpoint" >>"$OUT/faults.log"
        kill -KILL "$pid" 2>/dev/null || true
        sleep 0.3
    else
        printf '%s   %s died at %s\n' "$(date +%H:%M:%S)" "$service" "$failpoint" >>"$OUT/faults.log"
    fi
    restart_suite
}

# The RPC port this run gave a service (OMS_<SERVICE>_PORT, set above).
port_of() {
    local var
    var="OMS_$(upper "$1")_PORT"
    printf '%s\n' "${!var}"
}

# The stalled-peer flood, once, in the foreground (no other fault while it holds, so its memory
# figure is the flood's); its verdict counts at the end.
FLOOD_DONE=0
FLOOD_STATUS=0
flood() {
    local service="$1"
    restart_suite  # every service up, so the flood's target is the live process
    fault "stalled-peer flood against oms-$service (${CHAOS_FLOOD_PEERS:-400} peers)"
    /usr/bin/python3 "$ROOT/tools/stalled-peers.py" --pid "$(pid_of "$OMS_HOME/run/$service.pid")" \
        --port "$(port_of "$service")" --peers "${CHAOS_FLOOD_PEERS:-400}" --json-out "$OUT/flood.json" \
        --probe "$BIN/omsctl health --service $service --quiet" 2>"$OUT/flood.log" || FLOOD_STATUS=$?
    FLOOD_DONE=1
}

FAULTS=0
START=$(date +%s)
# Faults while the load runs; the last seconds of load are left alone so the run ends settled.
sleep 5
while kill -0 "$LOADGEN" 2>/dev/null && [ $(( $(date +%s) - START )) -lt $((LOAD_SECONDS - 5)) ]; do
    service="${SERVICES[$((RANDOM % ${#SERVICES[@]}))]}"
    if [ "$FLOOD_DONE" = 0 ] && [ $(( $(date +%s) - START )) -ge $((LOAD_SECONDS / 2)) ]; then
        flood "$service"
        FAULTS=$((FAULTS + 1))
        continue
    fi
    case $((RANDOM % 8)) in
        6|7)
            point="${FAILPOINTS[$((RANDOM % ${#FAILPOINTS[@]}))]}"
            fault "kill -9 at the worst moment: oms-${point%% *} at ${point#* }"
            arm_failpoint "${point%% *}" "${point#* }" ;;
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
if [ "$FLOOD_DONE" = 1 ]; then
    cat "$OUT/flood.log" >&2
    [ "$FLOOD_STATUS" = 0 ] || { log "the stalled-peer flood failed (see $OUT/flood.json)"; [ "$STATUS" != 0 ] || STATUS=1; }
else
    log "no stalled-peer flood this run (the load ended first)"
fi
exit "$STATUS"
