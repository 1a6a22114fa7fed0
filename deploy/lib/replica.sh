# shellcheck shell=bash
# A private PostgreSQL primary with one streaming hot standby on this machine,
# for trying and testing tach-query with its reads on a replica. Sourced by
# deploy/lib/services.sh, whose private-instance functions start the primary.
#
#   tach_pg_replica_up     starts the primary (tach_pg_private_up) and a
#                          standby cloned from it with pg_basebackup -R, or
#                          reuses both when they already run; prints nothing
#                          on stdout
#   tach_pg_standby_stop   stops the standby only
#   tach_pg_replica_stop   stops the standby, then the primary
#   tach_pg_replica_remove stops both and deletes the standby's data (the
#                          next tach_pg_replica_up clones it again)
#
# Settings (environment), besides those of deploy/lib/services.sh:
#   TACH_PRIVATE_PG_PORT          the primary's port (55432)
#   TACH_PRIVATE_PG_STANDBY_PORT  the standby's port (the primary's + 1)
#
# The standby's data lives beside the primary's: <primary dir>-standby (the
# primary's is <state>/pg, see tach_pg_dir). It streams from the primary over
# TCP as user postgres (initdb's pg_hba.conf trusts replication from
# 127.0.0.1), without a replication slot: a standby stopped for long may need
# tach_pg_replica_remove once the primary has recycled the WAL it needs.
# TLS (TACH_PRIVATE_PG_TLS) is not supported here.

TACH_PRIVATE_PG_STANDBY_PORT=${TACH_PRIVATE_PG_STANDBY_PORT:-$((TACH_PRIVATE_PG_PORT + 1))}

tach_pg_standby_dir() {
    local dir
    dir=$(tach_pg_dir)-standby
    mkdir -p "$dir"
    echo "$dir"
}

# Runs one SQL statement on 127.0.0.1:$1 as postgres; prints the value.
tach_pg_replica_psql() {
    local port=$1 sql=$2 bindir
    bindir=$(tach_pg_bindir "$(tach_pg_dir)/data") || return 1
    "$bindir/psql" -X -q -A -t -h 127.0.0.1 -p "$port" -U postgres -d postgres \
        -v ON_ERROR_STOP=1 -c "$sql"
}

# The primary must let a standby stream: wal_level replica (or logical) and
# at least one WAL sender (both PostgreSQL's defaults).
tach_pg_replica_check_primary() {
    local port=$1 wal_level senders
    wal_level=$(tach_pg_replica_psql "$port" 'SHOW wal_level') ||
        tach_fail "cannot ask the primary on 127.0.0.1:$port for its settings" || return 1
    senders=$(tach_pg_replica_psql "$port" 'SHOW max_wal_senders') || return 1
    [[ $wal_level == replica || $wal_level == logical ]] ||
        tach_fail "the primary on 127.0.0.1:$port has wal_level=$wal_level; a standby needs replica" ||
        return 1
    ((senders > 0)) ||
        tach_fail "the primary on 127.0.0.1:$port has max_wal_senders=0; a standby needs at least 1" ||
        return 1
}

# Clones the primary into the standby's data directory: a base backup with
# the WAL streamed alongside, and -R writing standby.signal and
# primary_conninfo, so the copy starts as a standby of the primary.
tach_pg_standby_clone() {
    local standby_dir=$1 bindir=$2 primary_port=$3 user
    user=$(tach_pg_user)
    mkdir -p "$standby_dir/run"
    chown "$user" "$standby_dir" "$standby_dir/run"
    chmod 0700 "$standby_dir"
    tach_say "cloning the primary on 127.0.0.1:$primary_port into $standby_dir/data (pg_basebackup -R; log: $standby_dir/basebackup.log)"
    rm -rf "$standby_dir/data"
    if ! tach_as_pg_user "$bindir/pg_basebackup" -h 127.0.0.1 -p "$primary_port" -U postgres \
        -D "$standby_dir/data" -R -X stream -c fast --no-sync >"$standby_dir/basebackup.log" 2>&1; then
        tach_show_log "$standby_dir/basebackup.log"
        rm -rf "$standby_dir/data"
        tach_fail "pg_basebackup from 127.0.0.1:$primary_port failed (log: $standby_dir/basebackup.log)"
        return 1
    fi
    cat >>"$standby_dir/data/postgresql.conf" <<'EOF'

# Added by tach's deploy/lib/replica.sh (private standby).
hot_standby = on
EOF
}

tach_pg_standby_start() {
    local standby_dir=$1 bindir=$2 port=$TACH_PRIVATE_PG_STANDBY_PORT socket_dir
    socket_dir=$standby_dir/run
    ((${#socket_dir} > 90)) && socket_dir=''
    tach_say "starting a private PostgreSQL standby on 127.0.0.1:$port (log: $standby_dir/postgres.log)"
    tach_as_pg_user "$bindir/pg_ctl" -D "$standby_dir/data" -l "$standby_dir/postgres.log" -w -t 60 \
        -o "-p $port -h 127.0.0.1 -k '$socket_dir'" start >/dev/null 2>&1 ||
        { tach_show_log "$standby_dir/postgres.log"; tach_fail "the private standby did not start (log: $standby_dir/postgres.log)"; return 1; }
}

# Waits until the standby on $1 is in recovery and its WAL receiver streams.
tach_pg_standby_wait_streaming() {
    local port=$1 deadline=$((SECONDS + 60)) state
    until state=$(tach_pg_replica_psql "$port" \
        "SELECT pg_is_in_recovery()::text || ' ' || coalesce((SELECT status FROM pg_stat_wal_receiver), 'none')" 2>/dev/null) &&
        [[ $state == 'true streaming' ]]; do
        if [[ $state == false* ]]; then
            tach_fail "the server on 127.0.0.1:$port is not a standby (pg_is_in_recovery() is false)"
            return 1
        fi
        if ((SECONDS > deadline)); then
            tach_fail "the standby on 127.0.0.1:$port does not stream from its primary within 60 s (state: ${state:-no answer})"
            return 1
        fi
        sleep 0.2
    done
}

tach_pg_replica_up() {
    local primary_port=$TACH_PRIVATE_PG_PORT port=$TACH_PRIVATE_PG_STANDBY_PORT standby_dir bindir
    if tach_pg_tls_enabled 2>/dev/null; then
        tach_fail "TACH_PRIVATE_PG_TLS is set; deploy/lib/replica.sh starts plaintext servers only"
        return 1
    fi
    ((port != primary_port)) ||
        tach_fail "TACH_PRIVATE_PG_STANDBY_PORT and TACH_PRIVATE_PG_PORT are both $port" || return 1
    tach_pg_private_up || return 1
    tach_pg_replica_check_primary "$primary_port" || return 1
    if tach_pg_answers 127.0.0.1 "$port"; then
        tach_say "reusing the PostgreSQL standby already running on 127.0.0.1:$port"
        tach_pg_standby_wait_streaming "$port"
        return
    fi
    standby_dir=$(tach_pg_standby_dir)
    bindir=$(tach_pg_bindir "$(tach_pg_dir)/data") || return 1
    if tach_as_pg_user "$bindir/pg_ctl" -D "$standby_dir/data" status >/dev/null 2>&1; then
        tach_fail "the standby in $standby_dir/data is running but not answering on 127.0.0.1:$port; stop it with tach_pg_standby_stop"
        return 1
    fi
    # A directory without standby.signal is not a standby of ours (an
    # interrupted clone, or a promoted copy): clone it again.
    [[ -f $standby_dir/data/standby.signal ]] ||
        tach_pg_standby_clone "$standby_dir" "$bindir" "$primary_port" || return 1
    tach_pg_standby_start "$standby_dir" "$bindir" || return 1
    tach_pg_standby_wait_streaming "$port"
}

tach_pg_standby_stop() {
    local standby_dir bindir
    id "$(tach_pg_user)" >/dev/null 2>&1 || return 0
    standby_dir=$(tach_pg_dir)-standby
    [[ -f $standby_dir/data/PG_VERSION ]] || return 0
    bindir=$(tach_pg_bindir "$standby_dir/data") || return 1
    tach_as_pg_user "$bindir/pg_ctl" -D "$standby_dir/data" status >/dev/null 2>&1 || return 0
    tach_say "stopping the private PostgreSQL standby ($standby_dir/data)"
    tach_as_pg_user "$bindir/pg_ctl" -D "$standby_dir/data" -m fast -w -t 60 stop >/dev/null ||
        tach_fail "pg_ctl stop failed for $standby_dir/data"
}

tach_pg_replica_stop() {
    local status=0
    tach_pg_standby_stop || status=1
    tach_pg_private_stop || status=1
    return "$status"
}

tach_pg_replica_remove() {
    tach_pg_replica_stop || return 1
    rm -rf "$(tach_pg_dir)-standby"
}
