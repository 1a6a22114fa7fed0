# shellcheck shell=bash
# Starting, watching and stopping tach's own processes for deploy/run.sh and
# deploy/stop.sh. Sourced after deploy/lib/services.sh (it uses tach_say and
# tach_fail). Each process keeps a pid file in $TACH_RUN_DIR and a log in
# $TACH_STATE_DIR/logs.

TACH_RUN_DIR=${TACH_RUN_DIR:-$TACH_STATE_DIR/run}
TACH_LOG_DIR=${TACH_LOG_DIR:-$TACH_STATE_DIR/logs}

# Starts "$@" in its own session (so the terminal's Ctrl-C and hangup reach
# only run.sh, which then stops it with SIGTERM in order), logging to
# <logs>/<name>.log. $1 is the name.
tach_start_process() {
    local name=$1 pid
    shift
    mkdir -p "$TACH_RUN_DIR" "$TACH_LOG_DIR"
    tach_say "starting $name (log: $TACH_LOG_DIR/$name.log)"
    setsid "$@" </dev/null >"$TACH_LOG_DIR/$name.log" 2>&1 &
    pid=$!
    echo "$pid" >"$TACH_RUN_DIR/$name.pid"
}

# Prints the pid of a running process started by tach_start_process, or fails.
# The command line must still name the program, so a recycled pid is never
# signalled.
tach_process_pid() {
    local name=$1 pid_file=$TACH_RUN_DIR/$1.pid pid cmdline
    [[ -f $pid_file ]] || return 1
    pid=$(<"$pid_file")
    [[ $pid =~ ^[0-9]+$ && -r /proc/$pid/cmdline ]] || return 1
    # Read whole, not piped into grep -q: under pipefail, grep's early exit
    # would fail the pipeline with SIGPIPE now and then.
    cmdline=$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline") || return 1
    [[ $cmdline == *"$name"* ]] || return 1
    echo "$pid"
}

tach_process_running() {
    tach_process_pid "$1" >/dev/null
}

# SIGTERM, then up to $2 seconds (default 35: the binaries bound their own
# graceful shutdown below Kubernetes' 30 s grace period) before SIGKILL.
tach_stop_process() {
    local name=$1 grace_seconds=${2:-35} pid deadline
    if ! pid=$(tach_process_pid "$name"); then
        rm -f "$TACH_RUN_DIR/$name.pid"
        return 0
    fi
    tach_say "stopping $name (pid $pid, SIGTERM)"
    kill -TERM "$pid" 2>/dev/null || true
    deadline=$((SECONDS + grace_seconds))
    while kill -0 "$pid" 2>/dev/null; do
        if ((SECONDS >= deadline)); then
            tach_say "$name did not exit within ${grace_seconds} s; sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            break
        fi
        sleep 0.2
    done
    rm -f "$TACH_RUN_DIR/$name.pid"
}

# Polls an HTTP URL until it answers 2xx, while the named process lives.
tach_wait_http() {
    local name=$1 url=$2 timeout_seconds=${3:-180} deadline
    tach_say "waiting for $name: $url"
    deadline=$((SECONDS + timeout_seconds))
    until curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null; do
        if ! tach_process_running "$name"; then
            tach_show_log "$TACH_LOG_DIR/$name.log"
            tach_fail "$name exited before $url answered (log: $TACH_LOG_DIR/$name.log)"
            return 1
        fi
        if ((SECONDS >= deadline)); then
            tach_show_log "$TACH_LOG_DIR/$name.log"
            tach_fail "$url did not answer within ${timeout_seconds} s (log: $TACH_LOG_DIR/$name.log)"
            return 1
        fi
        sleep 0.5
    done
}

# Turns a listen address (0.0.0.0:8000, [::]:8000, host:port) into one to connect to.
tach_connect_addr() {
    local addr=$1
    case $addr in
        0.0.0.0:*) echo "127.0.0.1:${addr#0.0.0.0:}" ;;
        \[::\]:*) echo "[::1]:${addr#\[::\]:}" ;;
        *) echo "$addr" ;;
    esac
}

# Records which private services a detached run started, for deploy/stop.sh.
tach_save_run_state() {
    mkdir -p "$TACH_RUN_DIR"
    cat >"$TACH_RUN_DIR/services.env" <<EOF
TACH_PG_STARTED=$TACH_PG_STARTED
TACH_AMQP_STARTED=$TACH_AMQP_STARTED
EOF
}

# Stops tach-gen, tach-query and tach-ingest, in that order: the publisher
# first, the consumer last so it drains and commits what it holds.
tach_stop_tach_processes() {
    tach_stop_process tach-gen 10
    tach_stop_process tach-query
    tach_stop_process tach-ingest
}
