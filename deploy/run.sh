#!/usr/bin/env bash
# Runs the whole of tach on this machine (README's first command, SPEC §2):
# PostgreSQL and RabbitMQ (the machine's own, or private ones started under
# .tach/), a build, tach-ingest and tach-query in the background, and a demo
# stream from tach-gen. Stays in the foreground until Ctrl-C, then stops what
# it started; with --detach it returns and deploy/stop.sh stops it later.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=deploy/lib/services.sh
source deploy/lib/services.sh
# shellcheck source=deploy/lib/processes.sh
source deploy/lib/processes.sh

usage() {
    cat <<EOF
Usage: deploy/run.sh [--detach] [--cluster] [--release | --bin-dir DIR] [--rate N] [--no-demo]

Starts PostgreSQL and RabbitMQ if none answer (private instances under .tach/,
ports $TACH_PRIVATE_PG_PORT and $TACH_PRIVATE_AMQP_PORT), builds the workspace, starts tach-ingest and
tach-query, publishes a demo stream with tach-gen and prints where to look.

  --detach    leave everything running and return; stop it with deploy/stop.sh
  --cluster   instead of one RabbitMQ, a private cluster of three nodes
              (tach-c1..3@localhost, AMQP ports $TACH_CLUSTER_AMQP_PORT-$((TACH_CLUSTER_AMQP_PORT + 2)), deploy/lib/cluster.sh)
              with quorum queues; tach-ingest lists every node (TACH_CONFIG
              written to $TACH_CLUSTER_DIR/tach.toml unless TACH_CONFIG is set)
  --release   build and run the release profile
  --bin-dir DIR  run prebuilt tach-ingest, tach-query and tach-gen from DIR; no build
  --rate N    demo messages per second (default ${TACH_DEMO_RATE:-100}; env TACH_DEMO_RATE)
  --no-demo   do not publish the demo stream
  -h, --help  this text

Environment: DATABASE_URL, AMQP_URL, TACH_QUERY_ADDR (127.0.0.1:8000),
TACH_INGEST_METRICS_ADDR (127.0.0.1:9108), TACH_CONFIG, RUST_LOG (info),
TACH_SERVICES (auto|private|external), TACH_KEEP_SERVICES=1 to leave private
PostgreSQL/RabbitMQ running at exit; see deploy/lib/services.sh for the rest.
EOF
}

detach=0
cluster=0
profile=debug
bin_dir=
demo=1
demo_rate=${TACH_DEMO_RATE:-100}

parse_args() {
    while (($#)); do
        case $1 in
            --detach) detach=1 ;;
            --cluster) cluster=1 ;;
            --release) profile=release ;;
            --bin-dir)
                [[ -d ${2:-} ]] || tach_die "--bin-dir needs a directory" 2
                bin_dir=$(cd "$2" && pwd)
                shift
                ;;
            --rate)
                [[ ${2:-} =~ ^[0-9]+([.][0-9]+)?$ ]] || tach_die "--rate needs a number" 2
                demo_rate=$2
                shift
                ;;
            --no-demo) demo=0 ;;
            -h | --help) usage; exit 0 ;;
            *) tach_die "unknown argument '$1' (see deploy/run.sh --help)" 2 ;;
        esac
        shift
    done
}

export TACH_QUERY_ADDR=${TACH_QUERY_ADDR:-127.0.0.1:8000}
export TACH_INGEST_METRICS_ADDR=${TACH_INGEST_METRICS_ADDR:-127.0.0.1:9108}
export RUST_LOG=${RUST_LOG:-info}
query_url=http://$(tach_connect_addr "$TACH_QUERY_ADDR")
ingest_url=http://$(tach_connect_addr "$TACH_INGEST_METRICS_ADDR")

refuse_second_run() {
    local name
    for name in tach-ingest tach-query; do
        if tach_process_running "$name"; then
            tach_die "$name is already running (pid $(tach_process_pid "$name")); stop it with deploy/stop.sh"
        fi
    done
    local addr
    for addr in "$TACH_QUERY_ADDR" "$TACH_INGEST_METRICS_ADDR"; do
        addr=$(tach_connect_addr "$addr")
        if tach_tcp_open "${addr%:*}" "${addr##*:}"; then
            tach_die "$addr is already in use; set TACH_QUERY_ADDR / TACH_INGEST_METRICS_ADDR or stop what listens there"
        fi
    done
}

# Runs at exit unless a detached run succeeded: stops what this run started.
cleanup() {
    local status=$?
    trap - EXIT INT TERM HUP
    echo >&2
    tach_stop_tach_processes || true
    if [[ ${TACH_KEEP_SERVICES:-0} == 1 ]]; then
        tach_say "TACH_KEEP_SERVICES=1: leaving PostgreSQL and RabbitMQ running"
    else
        if ((TACH_CLUSTER_STARTED)); then
            tach_cluster_down || true
        fi
        tach_services_down || true
    fi
    rm -f "$TACH_RUN_DIR/services.env"
    tach_say "stopped"
    exit "$status"
}

build() {
    if [[ -n $bin_dir ]]; then
        tach_say "using prebuilt binaries in $bin_dir"
        return 0
    fi
    local -a flags=(--workspace --bins)
    [[ $profile == release ]] && flags+=(--release)
    tach_say "building: cargo build ${flags[*]}"
    cargo build "${flags[@]}" || tach_die "cargo build failed"
    local target_dir=${CARGO_TARGET_DIR:-target}
    bin_dir=$(cd "$target_dir/$profile" && pwd)
}

# Creates and migrates the database once, before the services start: a clear
# failure here beats two services racing to create it.
migrate() {
    local log_file=$TACH_LOG_DIR/tach-migrate.log
    mkdir -p "$TACH_LOG_DIR"
    tach_say "creating and migrating the database: tach-ingest migrate (log: $log_file)"
    if ! "$bin_dir/tach-ingest" migrate >"$log_file" 2>&1; then
        tach_show_log "$log_file"
        tach_die "tach-ingest migrate failed (log: $log_file)"
    fi
}

# Set to 1 when this run started the private cluster.
TACH_CLUSTER_STARTED=0

# PostgreSQL as tach_services_up makes it available, and RabbitMQ either the
# same way or, with --cluster, as a private three-node cluster whose nodes
# tach-ingest lists (quorum queues); tach-gen publishes through node 1.
services_up() {
    if ((!cluster)); then
        tach_services_up
        return
    fi
    local mode=${TACH_SERVICES:-auto}
    mkdir -p "$TACH_STATE_DIR/logs" || tach_die "cannot create $TACH_STATE_DIR"
    tach_services_pg_up "$mode" || tach_die "PostgreSQL is not available"
    export TACH_PG_STARTED
    tach_cluster_up || tach_die "the private RabbitMQ cluster did not start (deploy/lib/cluster.sh)"
    TACH_CLUSTER_STARTED=1
    if [[ -z ${TACH_CONFIG:-} ]]; then
        local node urls=''
        for ((node = 1; node <= TACH_CLUSTER_NODES; node++)); do
            urls+=${urls:+, }\"amqp://guest:guest@127.0.0.1:$(tach_cluster_node_port "$node")/%2f\"
        done
        export TACH_CONFIG=$TACH_CLUSTER_DIR/tach.toml
        cat >"$TACH_CONFIG" <<EOF
# Written by deploy/run.sh --cluster.
[[deployment]]
name = "local"
amqp_urls = [$urls]
queue_arguments = { "x-queue-type" = "quorum" }
EOF
        tach_say "TACH_CONFIG=$TACH_CONFIG (the cluster's three nodes, quorum queues)"
    fi
    # tach-gen takes one node's URL.
    AMQP_URL=amqp://guest:guest@127.0.0.1:$(tach_cluster_node_port 1)/%2f
    export AMQP_URL
    tach_say "DATABASE_URL=$DATABASE_URL"
}

start_services() {
    tach_start_process tach-ingest "$bin_dir/tach-ingest"
    tach_wait_http tach-ingest "$ingest_url/healthz"
    tach_start_process tach-query "$bin_dir/tach-query"
    tach_wait_http tach-query "$query_url/readyz"
}

# TACH_DEMO_ARGS replaces the generator's arguments entirely, for example
# TACH_DEMO_ARGS='--seed 7 --instances 50 publish --rate 20'.
start_demo() {
    ((demo)) || return 0
    local -a args
    if [[ -n ${TACH_DEMO_ARGS:-} ]]; then
        read -r -a args <<<"$TACH_DEMO_ARGS"
    else
        args=(--seed 1 publish --amqp-url "$AMQP_URL" --rate "$demo_rate")
    fi
    tach_start_process tach-gen "$bin_dir/tach-gen" "${args[@]}"
}

# Waits briefly for the first stored events, so the URLs printed next show data.
report_first_events() {
    ((demo)) || return 0
    local deadline=$((SECONDS + 30)) stored
    while ((SECONDS < deadline)); do
        stored=$(curl -fsS --max-time 2 "$ingest_url/metrics" 2>/dev/null |
            awk '/^tach_ingest_messages_stored_total[{ ]/ { sum += $NF } END { printf "%d", sum }') ||
            stored=0
        if ((${stored:-0} > 0)); then
            tach_say "demo events are arriving: $stored stored so far"
            return 0
        fi
        sleep 1
    done
    tach_say "no demo event stored after 30 s; see $TACH_LOG_DIR/tach-gen.log and tach-ingest.log"
}

print_where_to_look() {
    local amqp_shown
    amqp_shown=$(printf '%s' "$AMQP_URL" | sed -E 's#(://[^:/@]*:)[^@]*@#\1***@#')
    cat <<EOF

tach is running.

  Console       $query_url/ui/   (live events, instances, timings, crashes, releases)
  Query API     $query_url
    curl -s '$query_url/stacky/deployments/'
    curl -s '$query_url/stacky/events/?service=nova'
    curl -s '$query_url/stacky/summary/'
    curl -s '$query_url/stacky/kpi/'
    curl -s '$query_url/stacky/watch/0/?service=nova'
    curl -sN '$query_url/stacky/watch/0/stream'      # pushed as committed (Ctrl-C ends it)
    curl -s '$query_url/products/versions/'
    curl -s '$query_url/crashes/signatures/?product=Firefox&version=<a version listed above>'
    curl -s '$query_url/releases'
    curl -s '$query_url/environments'
  Metrics       curl -s $query_url/metrics      (tach-query)
                curl -s $ingest_url/metrics      (tach-ingest)
  Health        $query_url/healthz  $query_url/readyz  $ingest_url/healthz  $ingest_url/readyz
  Logs          $TACH_LOG_DIR/tach-ingest.log
                $TACH_LOG_DIR/tach-query.log
                $TACH_LOG_DIR/tach-gen.log
  PostgreSQL    psql '$DATABASE_URL'
  RabbitMQ      $amqp_shown
EOF
    if ((detach)); then
        echo "  Stop          deploy/stop.sh"
    else
        echo "  Stop          Ctrl-C"
    fi
    echo
}

# Foreground: returns when Ctrl-C arrives (through the trap) or fails when a
# service dies on its own.
watch_processes() {
    local name demo_reported=0
    while true; do
        for name in tach-ingest tach-query; do
            if ! tach_process_running "$name"; then
                tach_show_log "$TACH_LOG_DIR/$name.log"
                tach_fail "$name exited unexpectedly (log: $TACH_LOG_DIR/$name.log)"
                return 1
            fi
        done
        if ((demo && !demo_reported)) && ! tach_process_running tach-gen; then
            tach_say "the demo publisher finished (log: $TACH_LOG_DIR/tach-gen.log)"
            demo_reported=1
        fi
        sleep 1
    done
}

main() {
    parse_args "$@"
    refuse_second_run
    tach_ensure_cargo
    tach_ensure_curl
    trap cleanup EXIT
    trap 'exit 130' INT TERM HUP
    services_up
    build
    migrate
    start_services
    start_demo
    report_first_events
    print_where_to_look
    if ((detach)); then
        tach_save_run_state
        echo "TACH_CLUSTER_STARTED=$TACH_CLUSTER_STARTED" >>"$TACH_RUN_DIR/services.env"
        trap - EXIT INT TERM HUP
        return 0
    fi
    watch_processes
}

main "$@"
