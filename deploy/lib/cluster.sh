# shellcheck shell=bash
# A private RabbitMQ cluster on this machine (SPEC §6, scale-out): three
# nodes tach-c1@localhost, tach-c2@localhost, tach-c3@localhost, each a
# private node as deploy/lib/services.sh starts one (data under
# $TACH_CLUSTER_DIR/nodeN), sharing one Erlang cookie and one private epmd,
# joined with `rabbitmqctl join_cluster`. Sourced by services.sh; used by
# `deploy/run.sh --cluster` and the failover test (tests/src/harness/cluster.rs).
#
# Settings (environment):
#   TACH_CLUSTER_DIR         data, logs and pid files ($TACH_STATE_DIR/cluster)
#   TACH_CLUSTER_NODES       3 (node N is tach-cN@localhost)
#   TACH_CLUSTER_AMQP_PORT   55681: node N listens for AMQP on this port + N - 1
#   TACH_CLUSTER_DIST_PORT   55691: node N's Erlang distribution port is this + N - 1
#   TACH_CLUSTER_EPMD_PORT   54370: the one epmd every node registers with (nodes
#                            on one host find each other through a single epmd)
#
# Entry points: tach_cluster_up, tach_cluster_down, tach_cluster_stop_node N,
# tach_cluster_start_node N, tach_cluster_rabbitmqctl N ARGS...,
# tach_cluster_amqp_url VHOST (oslo.messaging's multi-host form). All are
# idempotent: a node that runs is reused, a node that is stopped is left so.

TACH_CLUSTER_DIR=${TACH_CLUSTER_DIR:-$TACH_STATE_DIR/cluster}
TACH_CLUSTER_NODES=${TACH_CLUSTER_NODES:-3}
TACH_CLUSTER_AMQP_PORT=${TACH_CLUSTER_AMQP_PORT:-55681}
TACH_CLUSTER_DIST_PORT=${TACH_CLUSTER_DIST_PORT:-55691}
TACH_CLUSTER_EPMD_PORT=${TACH_CLUSTER_EPMD_PORT:-54370}

tach_cluster_node_name() { printf 'tach-c%s@localhost\n' "$1"; }
tach_cluster_node_port() { printf '%s\n' $((TACH_CLUSTER_AMQP_PORT + $1 - 1)); }

tach_cluster_check_node() {
    [[ $1 =~ ^[0-9]+$ ]] && (($1 >= 1 && $1 <= TACH_CLUSTER_NODES)) ||
        tach_fail "no cluster node '$1': nodes are 1 to $TACH_CLUSTER_NODES"
}

# Runs "$@" with services.sh's private-node settings pointing at node $1.
tach_cluster_on() {
    local node=$1
    shift
    tach_cluster_check_node "$node" || return 1
    (
        TACH_STATE_DIR=$TACH_CLUSTER_DIR/node$node
        TACH_RABBIT_NODENAME=$(tach_cluster_node_name "$node")
        TACH_PRIVATE_AMQP_PORT=$(tach_cluster_node_port "$node")
        TACH_PRIVATE_DIST_PORT=$((TACH_CLUSTER_DIST_PORT + node - 1))
        TACH_PRIVATE_EPMD_PORT=$TACH_CLUSTER_EPMD_PORT
        TACH_PRIVATE_AMQP_TLS=off
        "$@"
    )
}

# rabbitmqctl against node $1.
tach_cluster_rabbitmqctl() {
    local node=$1
    shift
    tach_cluster_on "$node" tach_rabbit rabbitmqctl "$@"
}

# Nodes join only with the same Erlang cookie: one is made for the cluster
# and copied into each node's HOME (services.sh sets HOME to its directory).
tach_cluster_cookie() {
    local node=$1 cookie=$TACH_CLUSTER_DIR/erlang.cookie home
    home=$TACH_CLUSTER_DIR/node$node/rabbitmq
    mkdir -p "$home" || tach_fail "cannot create $home" || return 1
    if [[ ! -s $cookie ]]; then
        (umask 077 && head -c 32 /dev/urandom | sha256sum | cut -c1-40 >"$cookie") ||
            tach_fail "cannot write $cookie" || return 1
    fi
    if ! cmp -s "$cookie" "$home/.erlang.cookie" 2>/dev/null; then
        rm -f "$home/.erlang.cookie"
        (umask 077 && tr -d '\n' <"$cookie" >"$home/.erlang.cookie") || return 1
        chmod 0400 "$home/.erlang.cookie"
    fi
}

# Starts node $1 (a no-op when it answers already).
tach_cluster_start_node() {
    local node=$1
    tach_cluster_check_node "$node" || return 1
    tach_cluster_cookie "$node" || return 1
    tach_cluster_on "$node" tach_amqp_private_up ||
        tach_fail "cluster node $node ($(tach_cluster_node_name "$node")) did not start; logs: $TACH_CLUSTER_DIR/node$node/rabbitmq/log"
}

# Stops node $1 and waits for its process to exit; the other nodes keep
# running, and so does the shared epmd (stopping it would hide them from
# rabbitmqctl and from each other's reconnection).
tach_cluster_stop_node() {
    local node=$1 dir pid=''
    tach_cluster_check_node "$node" || return 1
    dir=$TACH_CLUSTER_DIR/node$node/rabbitmq
    [[ -f $dir/rabbitmq.pid ]] && pid=$(<"$dir/rabbitmq.pid")
    [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 0
    tach_say "stopping cluster node $node ($(tach_cluster_node_name "$node"))"
    tach_cluster_rabbitmqctl "$node" -q stop "$dir/rabbitmq.pid" >/dev/null 2>&1 || {
        tach_say "rabbitmqctl stop failed; sending SIGTERM to pid $pid"
        kill "$pid" 2>/dev/null || true
        local deadline=$((SECONDS + 60))
        while kill -0 "$pid" 2>/dev/null; do
            ((SECONDS < deadline)) || { tach_fail "cluster node $node (pid $pid) did not stop"; return 1; }
            sleep 0.5
        done
    }
}

# The disk nodes node $1 knows as its cluster, one a line.
tach_cluster_members() {
    local status
    status=$(tach_cluster_rabbitmqctl "$1" -q cluster_status --formatter json 2>/dev/null) || return 1
    printf '%s' "$status" | grep -o '"disk_nodes":\[[^]]*\]' | grep -o 'tach-c[0-9]*@localhost'
}

# Makes node $1 a member of node 1's cluster unless it is one.
tach_cluster_join() {
    local node=$1 first log
    first=$(tach_cluster_node_name 1)
    tach_cluster_members "$node" | grep -qx "$first" && return 0
    log=$TACH_CLUSTER_DIR/node$node/join.log
    tach_say "joining cluster node $node ($(tach_cluster_node_name "$node")) to $first"
    {
        tach_cluster_rabbitmqctl "$node" stop_app &&
            tach_cluster_rabbitmqctl "$node" reset &&
            tach_cluster_rabbitmqctl "$node" join_cluster "$first" &&
            tach_cluster_rabbitmqctl "$node" start_app
    } >"$log" 2>&1 || {
        tach_show_log "$log"
        tach_fail "cluster node $node could not join $first (log: $log)"
        return 1
    }
}

# Starts every node (in parallel: each takes seconds to boot) and joins
# them into one cluster; exports AMQP_URL in the multi-host form.
tach_cluster_up() {
    local node status=0
    local -a pids=()
    [[ -x $TACH_RABBIT_BIN/rabbitmq-server ]] || {
        tach_apt_install rabbitmq-server || return 1
    }
    mkdir -p "$TACH_CLUSTER_DIR" || tach_fail "cannot create $TACH_CLUSTER_DIR" || return 1
    # The first node starts the shared epmd; the others then register with it.
    tach_cluster_start_node 1 || return 1
    for ((node = 2; node <= TACH_CLUSTER_NODES; node++)); do
        tach_cluster_start_node "$node" &
        pids+=($!)
    done
    for node in "${pids[@]}"; do
        wait "$node" || status=1
    done
    ((status == 0)) || return 1
    for ((node = 2; node <= TACH_CLUSTER_NODES; node++)); do
        tach_cluster_join "$node" || return 1
    done
    local members
    members=$(tach_cluster_members 1 | wc -l)
    ((members == TACH_CLUSTER_NODES)) ||
        { tach_fail "node 1 lists $members cluster members, not $TACH_CLUSTER_NODES"; return 1; }
    AMQP_URL=$(tach_cluster_amqp_url %2f)
    export AMQP_URL
    tach_say "RabbitMQ cluster of $TACH_CLUSTER_NODES nodes on 127.0.0.1 ports $TACH_CLUSTER_AMQP_PORT-$((TACH_CLUSTER_AMQP_PORT + TACH_CLUSTER_NODES - 1)) (data: $TACH_CLUSTER_DIR)"
}

# Stops every node, then the cluster's epmd.
tach_cluster_down() {
    local node status=0
    [[ -d $TACH_CLUSTER_DIR ]] || return 0
    for ((node = TACH_CLUSTER_NODES; node >= 1; node--)); do
        tach_cluster_stop_node "$node" || status=1
    done
    if command -v epmd >/dev/null 2>&1 && tach_tcp_open 127.0.0.1 "$TACH_CLUSTER_EPMD_PORT"; then
        ERL_EPMD_ADDRESS=127.0.0.1 epmd -port "$TACH_CLUSTER_EPMD_PORT" -kill >/dev/null 2>&1 || true
    fi
    return "$status"
}

# The cluster's URL for vhost $1 (already escaped, %2f for "/") in
# oslo.messaging's multi-host form, node 1 first.
tach_cluster_amqp_url() {
    local vhost=$1 node hosts=''
    for ((node = 1; node <= TACH_CLUSTER_NODES; node++)); do
        hosts+=${hosts:+,}guest:guest@127.0.0.1:$(tach_cluster_node_port "$node")
    done
    printf 'amqp://%s/%s\n' "$hosts" "$vhost"
}
