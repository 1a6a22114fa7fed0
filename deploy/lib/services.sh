# shellcheck shell=bash
# Local PostgreSQL and RabbitMQ for tach's two commands (SPEC §2), sourced by
# deploy/run.sh, deploy/test.sh and deploy/stop.sh.
#
# tach_services_up uses the PostgreSQL and RabbitMQ that already answer (the
# machine's own, normally 127.0.0.1:5432 and 127.0.0.1:5672); for each one that
# does not, it starts a private instance from Debian's packages with its data
# under $TACH_STATE_DIR (default <repo>/.tach) on a non-default port, and exports
# DATABASE_URL and AMQP_URL for whatever is in use. tach_services_down stops the
# private instances this shell started. Running it again reuses a private
# instance that is already up.
#
# Settings (environment):
#   TACH_SERVICES            auto (default): probe, start private ones where nothing answers;
#                            private: always use private instances;
#                            external: never start anything, fail if nothing answers.
#   DATABASE_URL, AMQP_URL   where to probe first (defaults: SPEC §2).
#   TACH_PG_HOST, TACH_PG_PORT       override the PostgreSQL probe (default: from DATABASE_URL).
#   TACH_AMQP_HOST, TACH_AMQP_PORT   override the RabbitMQ probe (default: from AMQP_URL).
#   TACH_DB_NAME             database named in the exported DATABASE_URL when tach builds it (tach).
#   TACH_STATE_DIR           private data, logs and pid files (<repo>/.tach).
#   TACH_PRIVATE_PG_PORT     55432     TACH_PRIVATE_AMQP_PORT   55672
#   TACH_PRIVATE_DIST_PORT   55673 (Erlang distribution)
#   TACH_PRIVATE_EPMD_PORT   54369 (a private epmd, so the machine's epmd and nodes are untouched)
#   TACH_PRIVATE_PG_TLS, TACH_PRIVATE_AMQP_TLS, TACH_PRIVATE_AMQPS_PORT, TACH_TLS_DIR, ...
#                            opt-in TLS for the private instances: see deploy/lib/tls.sh.
#
# Every step prints one line starting with "tach:"; a failure prints
# "tach: error: ..." and makes the function return non-zero.

TACH_REPO=${TACH_REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
TACH_STATE_DIR=${TACH_STATE_DIR:-$TACH_REPO/.tach}
TACH_PRIVATE_PG_PORT=${TACH_PRIVATE_PG_PORT:-55432}
TACH_PRIVATE_AMQP_PORT=${TACH_PRIVATE_AMQP_PORT:-55672}
TACH_PRIVATE_DIST_PORT=${TACH_PRIVATE_DIST_PORT:-55673}
TACH_PRIVATE_EPMD_PORT=${TACH_PRIVATE_EPMD_PORT:-54369}
TACH_RABBIT_NODENAME=${TACH_RABBIT_NODENAME:-tach@localhost}
TACH_RABBIT_BIN=${TACH_RABBIT_BIN:-/usr/lib/rabbitmq/bin}

# Set to 1 by tach_services_up when it started the private instance itself.
TACH_PG_STARTED=${TACH_PG_STARTED:-0}
TACH_AMQP_STARTED=${TACH_AMQP_STARTED:-0}

# shellcheck source=deploy/lib/tls.sh
source "$(dirname "${BASH_SOURCE[0]}")/tls.sh"
# shellcheck source=deploy/lib/cluster.sh
source "$(dirname "${BASH_SOURCE[0]}")/cluster.sh"
# shellcheck source=deploy/lib/replica.sh
source "$(dirname "${BASH_SOURCE[0]}")/replica.sh"

tach_say() { printf 'tach: %s\n' "$*" >&2; }
tach_fail() { printf 'tach: error: %s\n' "$*" >&2; return 1; }
# For scripts: print the error and exit with $2 (default 1).
tach_die() { tach_fail "$1" || true; exit "${2:-1}"; }

# Prints the last lines of a log file, indented, to explain a failure.
tach_show_log() {
    local log_file=$1
    [[ -s $log_file ]] || return 0
    printf 'tach: last lines of %s:\n' "$log_file" >&2
    tail -n 25 "$log_file" | sed 's/^/    /' >&2
}

# Splits a URL into "host port" ($1 url, $2 default host, $3 default port).
tach_url_host_port() {
    local url=$1 host=$2 port=$3
    if [[ $url =~ ^[A-Za-z][A-Za-z0-9+.-]*://([^@/]*@)?(\[[^]/]*\]|[^:/?]*)(:([0-9]+))? ]]; then
        [[ -n ${BASH_REMATCH[2]} ]] && host=${BASH_REMATCH[2]}
        [[ -n ${BASH_REMATCH[4]} ]] && port=${BASH_REMATCH[4]}
    fi
    host=${host#[}
    host=${host%]}
    printf '%s %s\n' "$host" "$port"
}

tach_tcp_open() {
    # shellcheck disable=SC2016 # expanded by the inner bash
    timeout 3 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$1" "$2" 2>/dev/null
}

# True when host:port speaks AMQP 0-9-1: after the protocol header a broker
# answers with a Connection.Start frame (type 1, channel 0, class 10, method 10).
# An open TCP port alone could be anything.
tach_amqp_answers() {
    local host=$1 port=$2 reply
    local -a bytes
    # shellcheck disable=SC2016 # expanded by the inner bash
    reply=$(timeout 5 bash -c '
        exec 3<>"/dev/tcp/$1/$2" || exit 1
        printf "AMQP\000\000\011\001" >&3
        head -c 11 <&3 | od -An -tx1' _ "$host" "$port" 2>/dev/null) || return 1
    read -r -a bytes <<<"$reply"
    [[ "${bytes[*]}" =~ ^01\ 00\ 00\ ([0-9a-f]{2}\ ){4}00\ 0a\ 00\ 0a$ ]]
}

tach_pg_answers() {
    local host=$1 port=$2
    if command -v pg_isready >/dev/null 2>&1; then
        pg_isready -q -h "$host" -p "$port" -t 5 >/dev/null 2>&1
    else
        tach_tcp_open "$host" "$port"
    fi
}

# Runs a command as root: directly, or through passwordless sudo.
tach_as_root() {
    if [[ $EUID -eq 0 ]]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        sudo -n "$@"
    else
        tach_fail "'$*' needs root (run as root or allow passwordless sudo)"
    fi
}

# Installs Debian packages non-interactively; refreshes the package lists once
# if the first attempt fails (a fresh machine may have stale or empty lists).
tach_apt_install() {
    local log_file=$TACH_STATE_DIR/logs/apt.log
    mkdir -p "$TACH_STATE_DIR/logs"
    tach_say "installing Debian package(s): $* (log: $log_file)"
    if tach_as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
        --no-install-recommends "$@" >>"$log_file" 2>&1; then
        return 0
    fi
    tach_say "apt-get install failed; running apt-get update and retrying"
    if tach_as_root apt-get update -q >>"$log_file" 2>&1 &&
        tach_as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
            --no-install-recommends "$@" >>"$log_file" 2>&1; then
        return 0
    fi
    tach_show_log "$log_file"
    tach_fail "could not install $* with apt-get"
}

# ---------------------------------------------------------------- PostgreSQL

# The newest Debian PostgreSQL bin directory, or the one matching an existing
# data directory's major version.
tach_pg_bindir() {
    local data_dir=$1 version dir
    if [[ -f $data_dir/PG_VERSION ]]; then
        version=$(<"$data_dir/PG_VERSION")
        dir=/usr/lib/postgresql/$version/bin
        [[ -x $dir/pg_ctl ]] && { echo "$dir"; return 0; }
        tach_fail "$data_dir was made by PostgreSQL $version, which is not installed; remove ${data_dir%/data} to start over"
        return 1
    fi
    for dir in $(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V -r); do
        [[ -x $dir/initdb && -x $dir/pg_ctl ]] && { echo "$dir"; return 0; }
    done
    tach_fail "no initdb/pg_ctl under /usr/lib/postgresql/*/bin"
}

# PostgreSQL refuses to run as root: as root, the private server runs as the
# "postgres" user that Debian's package creates.
tach_pg_user() {
    if [[ $EUID -eq 0 ]]; then echo postgres; else id -un; fi
}

tach_as_pg_user() {
    if [[ $EUID -eq 0 ]]; then
        (cd / && runuser -u postgres -- "$@")
    else
        (cd / && "$@")
    fi
}

# The directory for the private server: <state>/pg, unless the postgres user
# cannot reach it (a checkout under /root, say); then a directory under /var/tmp.
tach_pg_dir() {
    local dir=$TACH_STATE_DIR/pg
    if [[ $EUID -eq 0 ]] && ! runuser -u postgres -- test -x "$TACH_STATE_DIR" 2>/dev/null; then
        dir=/var/tmp/tach-pg-$(printf '%s' "$TACH_STATE_DIR" | sha1sum | cut -c1-12)
        [[ -d $dir ]] ||
            tach_say "user postgres cannot reach $TACH_STATE_DIR; keeping the private PostgreSQL in $dir"
    fi
    mkdir -p "$dir"
    echo "$dir"
}

# Installs Debian's PostgreSQL server if no initdb/pg_ctl is there, and makes
# sure the user that runs it exists.
tach_pg_ensure_installed() {
    local user dir
    for dir in /usr/lib/postgresql/*/bin; do
        [[ -x $dir/initdb && -x $dir/pg_ctl ]] && break
        dir=''
    done
    if [[ -z $dir ]]; then
        tach_apt_install postgresql || return 1
    fi
    user=$(tach_pg_user)
    id "$user" >/dev/null 2>&1 && return 0
    tach_say "creating system user $user for PostgreSQL"
    useradd --system --home-dir /var/lib/postgresql --shell /bin/bash "$user" ||
        tach_fail "could not create user $user"
}

tach_pg_private_prepare() {
    local pg_dir=$1 bindir=$2 user
    user=$(tach_pg_user)
    mkdir -p "$pg_dir/run"
    chown "$user" "$pg_dir" "$pg_dir/run"
    chmod 0700 "$pg_dir"
    [[ -f $pg_dir/data/PG_VERSION ]] && return 0
    tach_say "initializing a private PostgreSQL cluster in $pg_dir/data (initdb, user postgres, trust auth)"
    tach_as_pg_user "$bindir/initdb" -D "$pg_dir/data" -U postgres --auth=trust \
        --encoding=UTF8 --no-locale --no-sync >"$pg_dir/initdb.log" 2>&1 ||
        { tach_show_log "$pg_dir/initdb.log"; tach_fail "initdb failed (log: $pg_dir/initdb.log)"; return 1; }
    # A throwaway development and test server: durability is not worth the
    # fsyncs that every test's CREATE DATABASE would pay.
    cat >>"$pg_dir/data/postgresql.conf" <<'EOF'

# Added by tach's deploy/lib/services.sh (private development instance).
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
}

tach_pg_private_start() {
    local pg_dir=$1 bindir=$2 port=$TACH_PRIVATE_PG_PORT tls_options listen
    if tach_as_pg_user "$bindir/pg_ctl" -D "$pg_dir/data" status >/dev/null 2>&1; then
        tach_fail "the private PostgreSQL in $pg_dir/data is running but not answering on 127.0.0.1:$port; stop it with deploy/stop.sh --all"
        return 1
    fi
    # Empty unless TACH_PRIVATE_PG_TLS asks for TLS (deploy/lib/tls.sh).
    tls_options=$(tach_pg_tls_prepare "$pg_dir") || return 1
    listen=$(tach_pg_listen_addresses)
    if [[ -n $tls_options ]]; then
        tach_say "starting a private PostgreSQL on $listen port $port with TLS (TACH_PRIVATE_PG_TLS=$TACH_PRIVATE_PG_TLS, certificates: $TACH_TLS_DIR; log: $pg_dir/postgres.log)"
    else
        tach_say "starting a private PostgreSQL on 127.0.0.1:$port (log: $pg_dir/postgres.log)"
    fi
    # The socket directory lives with the data; a unix socket path is limited to
    # 107 bytes, so a deep checkout falls back to TCP only.
    local socket_dir=$pg_dir/run
    ((${#socket_dir} > 90)) && socket_dir=''
    tach_as_pg_user "$bindir/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/postgres.log" -w -t 60 \
        -o "-p $port -h '$listen' -k '$socket_dir' $tls_options" start >/dev/null 2>&1 ||
        { tach_show_log "$pg_dir/postgres.log"; tach_fail "the private PostgreSQL did not start (log: $pg_dir/postgres.log)"; return 1; }
}

tach_pg_private_up() {
    local port=$TACH_PRIVATE_PG_PORT pg_dir bindir tls=0
    tach_pg_tls_enabled && tls=1
    (($? < 2)) || return 1
    if tach_pg_answers 127.0.0.1 "$port"; then
        tach_say "reusing the private PostgreSQL already running on 127.0.0.1:$port"
        if ((tls)); then
            tach_tls_certs "$TACH_TLS_DIR" && tach_pg_tls_check "$port" || return 1
        fi
        return 0
    fi
    tach_pg_ensure_installed || return 1
    pg_dir=$(tach_pg_dir)
    bindir=$(tach_pg_bindir "$pg_dir/data") || return 1
    tach_pg_private_prepare "$pg_dir" "$bindir" || return 1
    tach_pg_private_start "$pg_dir" "$bindir" || return 1
    tach_pg_answers 127.0.0.1 "$port" ||
        tach_fail "the private PostgreSQL started but does not answer on 127.0.0.1:$port" || return 1
    if ((tls)); then
        tach_pg_tls_check "$port" "$bindir" || return 1
    fi
    TACH_PG_STARTED=1
}

tach_pg_private_stop() {
    local pg_dir bindir
    id "$(tach_pg_user)" >/dev/null 2>&1 || return 0
    pg_dir=$(tach_pg_dir)
    [[ -f $pg_dir/data/PG_VERSION ]] || return 0
    bindir=$(tach_pg_bindir "$pg_dir/data") || return 1
    tach_as_pg_user "$bindir/pg_ctl" -D "$pg_dir/data" status >/dev/null 2>&1 || return 0
    tach_say "stopping the private PostgreSQL ($pg_dir/data)"
    tach_as_pg_user "$bindir/pg_ctl" -D "$pg_dir/data" -m fast -w -t 60 stop >/dev/null ||
        tach_fail "pg_ctl stop failed for $pg_dir/data"
}

# ---------------------------------------------------------------- RabbitMQ

# The private node's environment, in the array TACH_RABBIT_ENV. Every path is
# under <state>/rabbitmq, HOME too (the Erlang cookie lives there), the
# machine's /etc/rabbitmq/rabbitmq-env.conf is replaced by our own, and a
# private epmd port keeps the machine's epmd and its nodes out of it. The
# distribution port is set because its default (AMQP port + 20000) does not
# exist for 55672.
tach_rabbit_env() {
    local dir=$TACH_STATE_DIR/rabbitmq
    TACH_RABBIT_ENV=(
        HOME="$dir"
        RABBITMQ_CONF_ENV_FILE="$dir/rabbitmq-env.conf"
        RABBITMQ_NODENAME="$TACH_RABBIT_NODENAME"
        RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
        RABBITMQ_NODE_PORT="$TACH_PRIVATE_AMQP_PORT"
        RABBITMQ_DIST_PORT="$TACH_PRIVATE_DIST_PORT"
        RABBITMQ_CONFIG_FILE="$dir/rabbitmq.conf"
        RABBITMQ_ADVANCED_CONFIG_FILE="$dir/advanced.config"
        RABBITMQ_ENABLED_PLUGINS_FILE="$dir/enabled_plugins"
        RABBITMQ_MNESIA_BASE="$dir/mnesia"
        RABBITMQ_LOG_BASE="$dir/log"
        RABBITMQ_PID_FILE="$dir/rabbitmq.pid"
        ERL_EPMD_PORT="$TACH_PRIVATE_EPMD_PORT"
        ERL_EPMD_ADDRESS=127.0.0.1
        ERL_FLAGS="-kernel inet_dist_use_interface {127,0,0,1}"
    )
}

# Runs a RabbitMQ script (rabbitmqctl, rabbitmq-diagnostics, ...) against the
# private node.
tach_rabbit() {
    local script=$1
    shift
    tach_rabbit_env
    env "${TACH_RABBIT_ENV[@]}" "$TACH_RABBIT_BIN/$script" "$@"
}

tach_rabbit_private_prepare() {
    local dir=$TACH_STATE_DIR/rabbitmq
    mkdir -p "$dir/mnesia" "$dir/log"
    : >"$dir/rabbitmq-env.conf"
    [[ -f $dir/enabled_plugins ]] || echo '[].' >"$dir/enabled_plugins"
    cat >"$dir/rabbitmq.conf" <<'EOF'
# Written by tach's deploy/lib/services.sh (private development node).
# guest/guest works from 127.0.0.1 only, which is where tach connects from.
loopback_users.guest = true
disk_free_limit.absolute = 50MB
log.console = false
log.file.level = info
EOF
    # Nothing unless TACH_PRIVATE_AMQP_TLS asks for a TLS listener (deploy/lib/tls.sh).
    tach_rabbit_tls_conf >>"$dir/rabbitmq.conf"
}

tach_rabbit_private_start() {
    local dir=$TACH_STATE_DIR/rabbitmq port=$TACH_PRIVATE_AMQP_PORT pid deadline
    if tach_amqp_tls_enabled 2>/dev/null; then
        tach_say "starting a private RabbitMQ node $TACH_RABBIT_NODENAME on 127.0.0.1:$port and TLS on 127.0.0.1:$TACH_PRIVATE_AMQPS_PORT (TACH_PRIVATE_AMQP_TLS=$TACH_PRIVATE_AMQP_TLS, certificates: $TACH_TLS_DIR; logs: $dir/log)"
    else
        tach_say "starting a private RabbitMQ node $TACH_RABBIT_NODENAME on 127.0.0.1:$port (logs: $dir/log)"
    fi
    # Started in its own session, in the background rather than with -detached,
    # so that a failure to boot lands in startup.log instead of vanishing.
    tach_rabbit_env
    setsid env "${TACH_RABBIT_ENV[@]}" "$TACH_RABBIT_BIN/rabbitmq-server" \
        </dev/null >"$dir/log/startup.log" 2>&1 &
    pid=$!
    deadline=$((SECONDS + 120))
    # With TLS on, the TLS listener has to be up too.
    until tach_amqp_answers 127.0.0.1 "$port" &&
        { ! tach_amqp_tls_enabled 2>/dev/null || tach_tcp_open 127.0.0.1 "$TACH_PRIVATE_AMQPS_PORT"; }; do
        if ! kill -0 "$pid" 2>/dev/null; then
            tach_show_log "$dir/log/startup.log"
            tach_fail "the private RabbitMQ exited during startup (logs: $dir/log)"
            return 1
        fi
        if ((SECONDS > deadline)); then
            tach_show_log "$dir/log/startup.log"
            tach_fail "the private RabbitMQ did not answer on 127.0.0.1:$port (or its TLS port $TACH_PRIVATE_AMQPS_PORT, when on) within 120 s (logs: $dir/log)"
            return 1
        fi
        sleep 1
    done
}

tach_amqp_private_up() {
    local port=$TACH_PRIVATE_AMQP_PORT tls=0
    tach_amqp_tls_enabled && tls=1
    (($? < 2)) || return 1
    if tach_amqp_answers 127.0.0.1 "$port"; then
        tach_say "reusing the private RabbitMQ already running on 127.0.0.1:$port"
        if ((tls)); then
            tach_tls_certs "$TACH_TLS_DIR" && tach_amqp_tls_check "$TACH_PRIVATE_AMQPS_PORT" || return 1
        fi
        return 0
    fi
    if [[ ! -x $TACH_RABBIT_BIN/rabbitmq-server ]]; then
        tach_apt_install rabbitmq-server || return 1
        [[ -x $TACH_RABBIT_BIN/rabbitmq-server ]] ||
            tach_fail "no $TACH_RABBIT_BIN/rabbitmq-server after installing rabbitmq-server" || return 1
    fi
    if tach_tcp_open 127.0.0.1 "$port" || tach_tcp_open 127.0.0.1 "$TACH_PRIVATE_DIST_PORT"; then
        tach_fail "port $port or $TACH_PRIVATE_DIST_PORT on 127.0.0.1 is taken by something that is not a RabbitMQ; set TACH_PRIVATE_AMQP_PORT/TACH_PRIVATE_DIST_PORT"
        return 1
    fi
    if ((tls)) && tach_tcp_open 127.0.0.1 "$TACH_PRIVATE_AMQPS_PORT"; then
        tach_fail "port $TACH_PRIVATE_AMQPS_PORT on 127.0.0.1 is taken; set TACH_PRIVATE_AMQPS_PORT"
        return 1
    fi
    tach_rabbit_private_prepare || return 1
    tach_rabbit_private_start || return 1
    if ((tls)); then
        tach_amqp_tls_check "$TACH_PRIVATE_AMQPS_PORT" || return 1
    fi
    TACH_AMQP_STARTED=1
}

tach_amqp_private_stop() {
    local dir=$TACH_STATE_DIR/rabbitmq pid=''
    [[ -f $dir/rabbitmq.conf ]] || return 0
    [[ -f $dir/rabbitmq.pid ]] && pid=$(<"$dir/rabbitmq.pid")
    if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
        tach_say "stopping the private RabbitMQ node $TACH_RABBIT_NODENAME"
        # "stop <pid file>" returns once the node's OS process has exited.
        tach_rabbit rabbitmqctl -q stop "$dir/rabbitmq.pid" >/dev/null 2>&1 || {
            tach_say "rabbitmqctl stop failed; sending SIGTERM to pid $pid"
            kill "$pid" 2>/dev/null || true
        }
    fi
    # The private epmd outlives the node; it serves no one else.
    if command -v epmd >/dev/null 2>&1 && tach_tcp_open 127.0.0.1 "$TACH_PRIVATE_EPMD_PORT"; then
        ERL_EPMD_ADDRESS=127.0.0.1 epmd -port "$TACH_PRIVATE_EPMD_PORT" -kill >/dev/null 2>&1 || true
    fi
}

# ---------------------------------------------------------------- Entry points

tach_use_external_pg() {
    local host=$1 port=$2
    tach_say "using the PostgreSQL that answers on $host:$port"
    export DATABASE_URL=${DATABASE_URL:-postgres://postgres@$host:$port/${TACH_DB_NAME:-tach}}
}

tach_use_external_amqp() {
    local host=$1 port=$2
    tach_say "using the RabbitMQ that answers on $host:$port"
    export AMQP_URL=${AMQP_URL:-amqp://guest:guest@$host:$port/%2f}
}

tach_services_pg_up() {
    local mode=$1 host port
    read -r host port < <(tach_url_host_port "${DATABASE_URL:-}" 127.0.0.1 5432)
    host=${TACH_PG_HOST:-$host}
    port=${TACH_PG_PORT:-$port}
    if [[ $mode != private ]]; then
        tach_say "probing PostgreSQL on $host:$port"
        if tach_pg_answers "$host" "$port"; then
            tach_use_external_pg "$host" "$port"
            return 0
        fi
        [[ $mode == external ]] &&
            { tach_fail "no PostgreSQL answers on $host:$port (TACH_SERVICES=external)"; return 1; }
        tach_say "no PostgreSQL on $host:$port"
    fi
    tach_pg_private_up || return 1
    export DATABASE_URL=postgres://postgres@127.0.0.1:$TACH_PRIVATE_PG_PORT/${TACH_DB_NAME:-tach}
}

tach_services_amqp_up() {
    local mode=$1 host port
    read -r host port < <(tach_url_host_port "${AMQP_URL:-}" 127.0.0.1 5672)
    host=${TACH_AMQP_HOST:-$host}
    port=${TACH_AMQP_PORT:-$port}
    if [[ $mode != private ]]; then
        tach_say "probing RabbitMQ (AMQP handshake) on $host:$port"
        if tach_amqp_answers "$host" "$port"; then
            tach_use_external_amqp "$host" "$port"
            return 0
        fi
        [[ $mode == external ]] &&
            { tach_fail "no RabbitMQ answers on $host:$port (TACH_SERVICES=external)"; return 1; }
        tach_say "no RabbitMQ on $host:$port"
    fi
    tach_amqp_private_up || return 1
    export AMQP_URL=amqp://guest:guest@127.0.0.1:$TACH_PRIVATE_AMQP_PORT/%2f
}

# Makes PostgreSQL and RabbitMQ available and exports DATABASE_URL and AMQP_URL.
tach_services_up() {
    local mode=${TACH_SERVICES:-auto}
    case $mode in
        auto | private | external) ;;
        *) tach_fail "TACH_SERVICES must be auto, private or external, not '$mode'"; return 1 ;;
    esac
    mkdir -p "$TACH_STATE_DIR/logs" || tach_fail "cannot create $TACH_STATE_DIR" || return 1
    tach_services_pg_up "$mode" || return 1
    tach_services_amqp_up "$mode" || return 1
    export TACH_PG_STARTED TACH_AMQP_STARTED
    tach_say "DATABASE_URL=$DATABASE_URL"
    tach_say "AMQP_URL=$(printf '%s' "$AMQP_URL" | sed -E 's#(://[^:/@]*:)[^@]*@#\1***@#')"
}

# Stops the private instances that tach_services_up started in this shell; with
# --all, every private instance found under $TACH_STATE_DIR.
# shellcheck disable=SC2120 # callers pass --all only when they mean it
tach_services_down() {
    local all=0 status=0
    [[ ${1:-} == --all ]] && all=1
    if ((all || TACH_AMQP_STARTED)); then
        tach_amqp_private_stop || status=1
        TACH_AMQP_STARTED=0
    fi
    if ((all || TACH_PG_STARTED)); then
        tach_pg_private_stop || status=1
        TACH_PG_STARTED=0
    fi
    return "$status"
}

# ---------------------------------------------------------------- Tools

# Puts cargo on PATH (rustup installs it under ~/.cargo/bin).
tach_ensure_cargo() {
    command -v cargo >/dev/null 2>&1 && return 0
    if [[ -x ${CARGO_HOME:-$HOME/.cargo}/bin/cargo ]]; then
        export PATH=${CARGO_HOME:-$HOME/.cargo}/bin:$PATH
        return 0
    fi
    tach_fail "cargo not found: install the Rust toolchain with rustup (https://rustup.rs)"
}

tach_ensure_nextest() {
    tach_ensure_cargo || return 1
    cargo nextest --version >/dev/null 2>&1 && return 0
    tach_say "installing cargo-nextest (cargo install cargo-nextest --locked)"
    cargo install cargo-nextest --locked ||
        tach_fail "could not install cargo-nextest"
}

tach_ensure_curl() {
    command -v curl >/dev/null 2>&1 && return 0
    tach_apt_install curl ca-certificates
}

# Finds promtool, else unpacks it from Debian's prometheus package into
# <state>/tools without installing the package: installing it would also start
# a Prometheus server on :9090. Prints promtool's path.
# Debian's Chromium for the console's browser tests (Playwright cannot fetch
# its own browser here); prints its path.
tach_ensure_chromium() {
    local candidate
    for candidate in "${TACH_CHROMIUM:-}" /usr/bin/chromium /usr/bin/chromium-browser; do
        if [[ -n $candidate && -x $candidate ]]; then echo "$candidate"; return 0; fi
    done
    tach_apt_install chromium >&2 || return 1
    [[ -x /usr/bin/chromium ]] && echo /usr/bin/chromium
}

tach_ensure_promtool() {
    local tools=$TACH_STATE_DIR/tools log_file=$TACH_STATE_DIR/logs/apt.log work deb
    if command -v promtool >/dev/null 2>&1; then command -v promtool; return 0; fi
    if [[ -x $tools/promtool ]]; then echo "$tools/promtool"; return 0; fi
    command -v apt-get >/dev/null 2>&1 || return 1
    tach_say "fetching promtool from Debian's prometheus package into $tools (log: $log_file)"
    work=$tools/prometheus-deb
    rm -rf "$work"
    mkdir -p "$work" "$TACH_STATE_DIR/logs"
    if ! (cd "$work" && apt-get download prometheus) >>"$log_file" 2>&1; then
        tach_as_root apt-get update -q >>"$log_file" 2>&1 || return 1
        (cd "$work" && apt-get download prometheus) >>"$log_file" 2>&1 || return 1
    fi
    deb=$(find "$work" -maxdepth 1 -name 'prometheus_*.deb' | head -n 1)
    [[ -n $deb ]] && dpkg-deb -x "$deb" "$work/root" || return 1
    cp "$work/root/usr/bin/promtool" "$tools/promtool" || return 1
    rm -rf "$work"
    echo "$tools/promtool"
}
