#!/usr/bin/env bash
# Stops a run started with `deploy/run.sh --detach`: tach-gen, tach-query and
# tach-ingest (SIGTERM, so ingest commits and acks what it holds), then the
# private PostgreSQL and RabbitMQ (or RabbitMQ cluster) that run started. The machine's own
# PostgreSQL and RabbitMQ are never touched.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=deploy/lib/services.sh
source deploy/lib/services.sh
# shellcheck source=deploy/lib/processes.sh
source deploy/lib/processes.sh

usage() {
    cat <<EOF
Usage: deploy/stop.sh [--all | --keep-services]

  (no flag)        stop tach's processes and the private services the detached run started
  --all            also stop any private PostgreSQL/RabbitMQ (or cluster) under $TACH_STATE_DIR,
                   whoever started them (deploy/test.sh with TACH_KEEP_SERVICES=1, say)
  --keep-services  stop only tach's processes
  -h, --help       this text
EOF
}

services=started
case ${1:-} in
    '') ;;
    --all) services=all ;;
    --keep-services) services=none ;;
    -h | --help) usage; exit 0 ;;
    *) tach_die "unknown argument '$1' (see deploy/stop.sh --help)" 2 ;;
esac

tach_stop_tach_processes
case $services in
    all)
        tach_cluster_down
        tach_services_down --all
        ;;
    started)
        if [[ -f $TACH_RUN_DIR/services.env ]]; then
            # shellcheck disable=SC1091 # written by tach_save_run_state
            source "$TACH_RUN_DIR/services.env"
            if ((${TACH_CLUSTER_STARTED:-0})); then
                tach_cluster_down
            fi
            tach_services_down
        fi
        ;;
esac
rm -f "$TACH_RUN_DIR/services.env"
tach_say "stopped"
