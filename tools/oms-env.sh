#!/usr/bin/env bash
# Local environment for the suite: a private MariaDB and Redis under .oms/, loopback only.
#
#   tools/oms-env.sh install   install the Debian packages that are missing
#   tools/oms-env.sh start     install if needed, then start MariaDB (3307) and Redis (6380); idempotent
#   tools/oms-env.sh stop      stop both (the suite's services are stopped by tools/oms-suite.sh)
#   tools/oms-env.sh reset     stop and delete .oms/ data (keeps nothing)
#   tools/oms-env.sh status    one line per server
#   tools/oms-env.sh env       print the environment (OMS_* variables) the services and tests use
#
# Ports and the directory are configurable: OMS_HOME (default <checkout>/.oms), OMS_MYSQL_PORT
# (3307), OMS_REDIS_PORT (6380).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OMS_HOME="${OMS_HOME:-$ROOT/.oms}"
MYSQL_PORT="${OMS_MYSQL_PORT:-3307}"
REDIS_PORT="${OMS_REDIS_PORT:-6380}"
MYDIR="$OMS_HOME/mysql"
RDIR="$OMS_HOME/redis"
SECRETS="$OMS_HOME/secrets.env"
SERVICES=(checkout inventory orders payments shipments)

# Debian packages: servers, C libraries, code generators, and what the tests use.
PACKAGES=(mariadb-server mariadb-client redis-server redis-tools default-libmysqlclient-dev libhiredis-dev
          libprotobuf-c-dev protobuf-c-compiler protobuf-compiler python3 python3-protobuf python3-yaml
          python3-jsonschema docker-compose pkg-config procps)

log() { printf 'oms-env: %s\n' "$*" >&2; }
die() { printf 'oms-env: error: %s\n' "$*" >&2; exit 1; }

missing_packages() {
    local p missing=()
    for p in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    echo "${missing[@]:-}"
}

cmd_install() {
    local missing
    missing="$(missing_packages)"
    [ -z "$missing" ] && return 0
    if [ "$(id -u)" -ne 0 ]; then
        die "missing Debian packages: $missing — install them with: sudo apt-get install -y $missing"
    fi
    log "installing: $missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null || apt-get update
    # policy-rc.d keeps Debian from starting the system-wide servers; we run private ones.
    apt-get install -y -qq --no-install-recommends $missing >/dev/null || apt-get install -y $missing
}

alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }
pid_of() { [ -f "$1" ] && cat "$1" 2>/dev/null || true; }

random_secret() { head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n'; }

ensure_secrets() {
    mkdir -p "$OMS_HOME"
    chmod 700 "$OMS_HOME"
    if [ ! -s "$OMS_HOME/auth-token" ]; then
        (umask 077; random_secret > "$OMS_HOME/auth-token")
    fi
    if [ ! -s "$SECRETS" ]; then
        (umask 077
         {
             echo "OMS_MYSQL_ADMIN_PASSWORD=$(random_secret)"
             echo "OMS_REDIS_PASSWORD=$(random_secret)"
             for s in "${SERVICES[@]}"; do echo "OMS_MYSQL_${s^^}_PASSWORD=$(random_secret)"; done
         } > "$SECRETS")
    fi
    # shellcheck disable=SC1090
    . "$SECRETS"
}

mysql_socket() { echo "$MYDIR/mysqld.sock"; }
mysql_admin_cli() { mariadb --no-defaults --socket="$(mysql_socket)" -u "$(id -un)" "$@"; }

write_mysql_config() {
    mkdir -p "$MYDIR"
    cat > "$MYDIR/my.cnf" <<CNF
[mariadbd]
datadir=$MYDIR/data
socket=$(mysql_socket)
pid-file=$MYDIR/mysqld.pid
log-error=$MYDIR/error.log
port=$MYSQL_PORT
bind-address=127.0.0.1
skip-name-resolve
character-set-server=utf8mb4
collation-server=utf8mb4_unicode_ci
# Durable: every commit is on disk before it is acknowledged.
innodb_flush_log_at_trx_commit=1
innodb_doublewrite=1
sync_binlog=1
# Sized for a 2-core / 24 GiB box that also runs Redis, five services and the load generator.
innodb_buffer_pool_size=1G
innodb_log_file_size=512M
innodb_log_buffer_size=64M
innodb_lock_wait_timeout=10
innodb_print_all_deadlocks=ON
max_connections=600
thread_cache_size=64
table_open_cache=4000
max_prepared_stmt_count=100000
performance_schema=OFF
CNF
}

start_mysql() {
    write_mysql_config
    local pid; pid="$(pid_of "$MYDIR/mysqld.pid")"
    if alive "$pid" && mysql_admin_cli -e 'SELECT 1' >/dev/null 2>&1; then
        return 0
    fi
    if [ -n "$pid" ] && ! alive "$pid"; then
        log "recovering from a stale MariaDB pid file ($pid)"
    fi
    rm -f "$MYDIR/mysqld.pid" "$(mysql_socket)" "$(mysql_socket).lock"
    if [ ! -d "$MYDIR/data/mysql" ]; then
        log "initialising MariaDB data directory in $MYDIR/data"
        mkdir -p "$MYDIR/data"
        mariadb-install-db --no-defaults --datadir="$MYDIR/data" --user="$(id -un)" \
            --auth-root-authentication-method=socket --skip-test-db >"$MYDIR/install.log" 2>&1 \
            || { cat "$MYDIR/install.log" >&2; die "mariadb-install-db failed"; }
    fi
    if ss -ltn 2>/dev/null | awk '{print $4}' | grep -qE "[:.]$MYSQL_PORT\$"; then
        die "port $MYSQL_PORT is in use by another process; set OMS_MYSQL_PORT"
    fi
    setsid mariadbd --defaults-file="$MYDIR/my.cnf" --user="$(id -un)" >>"$MYDIR/stdout.log" 2>&1 < /dev/null &
    local i
    for i in $(seq 1 120); do
        mysql_admin_cli -e 'SELECT 1' >/dev/null 2>&1 && break
        sleep 0.5
        [ "$i" -eq 120 ] && { tail -20 "$MYDIR/error.log" >&2; die "MariaDB did not start on port $MYSQL_PORT"; }
    done
    provision_mysql
    log "MariaDB ready on 127.0.0.1:$MYSQL_PORT"
}

# One database user per service with rights on its own schema (and its test copies) only;
# an admin user for migrations tooling, the test kit and the audit.
provision_mysql() {
    local sql="" s
    sql+="CREATE USER IF NOT EXISTS 'oms_admin'@'127.0.0.1' IDENTIFIED BY '$OMS_MYSQL_ADMIN_PASSWORD';"
    sql+="ALTER USER 'oms_admin'@'127.0.0.1' IDENTIFIED BY '$OMS_MYSQL_ADMIN_PASSWORD';"
    sql+="GRANT ALL PRIVILEGES ON *.* TO 'oms_admin'@'127.0.0.1' WITH GRANT OPTION;"
    for s in "${SERVICES[@]}"; do
        local var="OMS_MYSQL_${s^^}_PASSWORD"
        sql+="CREATE DATABASE IF NOT EXISTS oms_$s CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;"
        sql+="CREATE USER IF NOT EXISTS 'oms_$s'@'127.0.0.1' IDENTIFIED BY '${!var}';"
        sql+="ALTER USER 'oms_$s'@'127.0.0.1' IDENTIFIED BY '${!var}';"
        sql+="GRANT ALL PRIVILEGES ON \`oms\\_$s%\`.* TO 'oms_$s'@'127.0.0.1';"
    done
    sql+="FLUSH PRIVILEGES;"
    mysql_admin_cli -e "$sql" || die "could not provision MariaDB users"
}

start_redis() {
    mkdir -p "$RDIR"
    local pid; pid="$(pid_of "$RDIR/redis.pid")"
    if alive "$pid" && redis-cli -p "$REDIS_PORT" -a "$OMS_REDIS_PASSWORD" --no-auth-warning ping 2>/dev/null | grep -q PONG; then
        return 0
    fi
    [ -n "$pid" ] && ! alive "$pid" && log "recovering from a stale Redis pid file ($pid)"
    rm -f "$RDIR/redis.pid"
    if ss -ltn 2>/dev/null | awk '{print $4}' | grep -qE "[:.]$REDIS_PORT\$"; then
        die "port $REDIS_PORT is in use by another process; set OMS_REDIS_PORT"
    fi
    (umask 077; cat > "$RDIR/redis.conf" <<CNF
port $REDIS_PORT
bind 127.0.0.1
protected-mode yes
requirepass $OMS_REDIS_PASSWORD
daemonize yes
pidfile $RDIR/redis.pid
logfile $RDIR/redis.log
dir $RDIR
# MySQL is the source of truth; the gate is rebuilt from it, so no persistence.
save ""
appendonly no
maxclients 2000
CNF
)
    redis-server "$RDIR/redis.conf" || die "redis-server failed to start (see $RDIR/redis.log)"
    local i
    for i in $(seq 1 50); do
        redis-cli -p "$REDIS_PORT" -a "$OMS_REDIS_PASSWORD" --no-auth-warning ping 2>/dev/null | grep -q PONG && break
        sleep 0.2
        [ "$i" -eq 50 ] && die "Redis did not start on port $REDIS_PORT"
    done
    log "Redis ready on 127.0.0.1:$REDIS_PORT"
}

stop_pidfile() {
    local pidfile="$1" name="$2" pid i
    pid="$(pid_of "$pidfile")"
    if alive "$pid"; then
        kill -TERM "$pid" 2>/dev/null || true
        for i in $(seq 1 100); do alive "$pid" || break; sleep 0.2; done
        alive "$pid" && { log "$name did not stop in 20 s; killing"; kill -KILL "$pid" 2>/dev/null || true; }
    fi
    rm -f "$pidfile"
}

cmd_env() {
    ensure_secrets
    local s
    echo "OMS_HOME=$OMS_HOME"
    echo "OMS_AUTH_TOKEN_FILE=$OMS_HOME/auth-token"
    echo "OMS_MYSQL_HOST=127.0.0.1"
    echo "OMS_MYSQL_PORT=$MYSQL_PORT"
    echo "OMS_MYSQL_ADMIN_URL=mysql://oms_admin:$OMS_MYSQL_ADMIN_PASSWORD@127.0.0.1:$MYSQL_PORT/mysql"
    for s in "${SERVICES[@]}"; do
        local var="OMS_MYSQL_${s^^}_PASSWORD"
        echo "OMS_${s^^}_DB_URL=mysql://oms_$s:${!var}@127.0.0.1:$MYSQL_PORT/oms_$s"
    done
    echo "OMS_REDIS_URL=redis://:$OMS_REDIS_PASSWORD@127.0.0.1:$REDIS_PORT/0"
}

case "${1:-}" in
    install) cmd_install ;;
    start)
        cmd_install
        ensure_secrets
        start_mysql
        start_redis
        cmd_env > "$OMS_HOME/env"
        chmod 600 "$OMS_HOME/env"
        ;;
    stop)
        stop_pidfile "$MYDIR/mysqld.pid" MariaDB
        stop_pidfile "$RDIR/redis.pid" Redis
        ;;
    reset)
        "$0" stop
        rm -rf "$OMS_HOME"
        ;;
    status)
        alive "$(pid_of "$MYDIR/mysqld.pid")" && echo "mariadb: running (127.0.0.1:$MYSQL_PORT)" || echo "mariadb: stopped"
        alive "$(pid_of "$RDIR/redis.pid")" && echo "redis: running (127.0.0.1:$REDIS_PORT)" || echo "redis: stopped"
        ;;
    env) cmd_env ;;
    *) echo "usage: $0 install|start|stop|reset|status|env" >&2; exit 2 ;;
esac
