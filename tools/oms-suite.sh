#!/usr/bin/env bash
# Runs the five service executables in the background with pids and logs under .oms/run/.
#
#   tools/oms-suite.sh start [debug|release]   start every service that is not running; idempotent
#   tools/oms-suite.sh stop                    SIGTERM (graceful: GoAway, drain), then wait
#   tools/oms-suite.sh restart [debug|release]
#   tools/oms-suite.sh status                  one line per service, with its health
#
# Configuration comes from .oms/env (written by tools/oms-env.sh) plus any OMS_* variables
# already set in the environment, which win.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OMS_HOME="${OMS_HOME:-$ROOT/.oms}"
RUN="$OMS_HOME/run"
# Start order: the coordinator and shipments call the others.
SERVICES=(inventory orders payments shipments checkout)

log() { printf 'oms-suite: %s\n' "$*" >&2; }
die() { printf 'oms-suite: error: %s\n' "$*" >&2; exit 1; }
alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }
pid_of() { [ -f "$RUN/$1.pid" ] && cat "$RUN/$1.pid" 2>/dev/null || true; }

load_env() {
    [ -f "$OMS_HOME/env" ] || die "no $OMS_HOME/env; run tools/oms-env.sh start first"
    local line key
    while IFS= read -r line; do
        key="${line%%=*}"
        # Variables already in the environment win over the file.
        [ -n "${!key:-}" ] || export "$line"
    done < "$OMS_HOME/env"
}

bin_dir() {
    local config="${1:-debug}"
    (cd "$ROOT" && swift build -c "$config" --show-bin-path)
}

start() {
    load_env
    mkdir -p "$RUN"
    local dir s pid i
    dir="$(bin_dir "${1:-debug}")"
    for s in "${SERVICES[@]}"; do
        pid="$(pid_of "$s")"
        if alive "$pid"; then log "$s already running (pid $pid)"; continue; fi
        rm -f "$RUN/$s.pid"
        [ -x "$dir/oms-$s" ] || die "$dir/oms-$s is not built; run make build"
        setsid "$dir/oms-$s" >>"$RUN/$s.log" 2>&1 < /dev/null &
        echo $! > "$RUN/$s.pid"
    done
    # Wait until every service answers its health check (or one has exited).
    for s in "${SERVICES[@]}"; do
        for i in $(seq 1 150); do
            pid="$(pid_of "$s")"
            alive "$pid" || { tail -5 "$RUN/$s.log" >&2; die "oms-$s exited during start (log: $RUN/$s.log)"; }
            "$dir/omsctl" health --service "$s" --quiet >/dev/null 2>&1 && break
            sleep 0.2
            [ "$i" -eq 150 ] && die "oms-$s did not become healthy in 30 s (log: $RUN/$s.log)"
        done
    done
    log "all services healthy"
}

stop() {
    local s pid i
    for s in checkout shipments payments orders inventory; do
        pid="$(pid_of "$s")"
        if alive "$pid"; then
            kill -TERM "$pid" 2>/dev/null || true
            for i in $(seq 1 100); do alive "$pid" || break; sleep 0.1; done
            alive "$pid" && { log "oms-$s did not stop in 10 s; killing"; kill -KILL "$pid" 2>/dev/null || true; }
        fi
        rm -f "$RUN/$s.pid"
    done
}

status() {
    local s pid
    for s in "${SERVICES[@]}"; do
        pid="$(pid_of "$s")"
        if alive "$pid"; then echo "oms-$s: running (pid $pid)"; else echo "oms-$s: stopped"; fi
    done
}

case "${1:-}" in
    start) start "${2:-debug}" ;;
    stop) stop ;;
    restart) stop; start "${2:-debug}" ;;
    status) status ;;
    *) echo "usage: $0 start|stop|restart|status [debug|release]" >&2; exit 2 ;;
esac
