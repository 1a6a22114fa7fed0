#!/usr/bin/env bash
# Runs the whole test suite (README's second command, SPEC §2; .ci/run calls
# it): PostgreSQL and RabbitMQ the same way as deploy/run.sh, then
# `cargo nextest run --workspace --no-fail-fast` with any extra arguments, then
# the static checks of deploy/. Exits with the tests' status; when the tests
# pass, a failed deployment check fails the run too.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=deploy/lib/services.sh
source deploy/lib/services.sh
# shellcheck source=deploy/lib/checks.sh
source deploy/lib/checks.sh

usage() {
    cat <<EOF
Usage: deploy/test.sh [--checks-only] [NEXTEST ARGS...]

Makes PostgreSQL and RabbitMQ available (private instances under .tach/ if none
answer), exports DATABASE_URL (a server URL: each test creates its own
tach_test_<uuid> database) and AMQP_URL, runs
  cargo nextest run --workspace --no-fail-fast [NEXTEST ARGS...]
then checks deploy/ (promtool, YAML, tach.example.toml).

  --checks-only  only check the files in deploy/; no services, no tests
  -h, --help     this text (nextest's own: cargo nextest run --help)

Examples: deploy/test.sh -E 'package(tach-schema)'   deploy/test.sh stacky::
Environment: TACH_SERVICES (auto|private|external), TACH_KEEP_SERVICES=1 to leave
private PostgreSQL/RabbitMQ running (deploy/stop.sh --all stops them), and the
settings listed in deploy/lib/services.sh.
EOF
}

# Under CI, use nextest's "ci" profile when the workspace defines one.
nextest_profile_args() {
    if [[ ${CI:-} == true ]] && grep -qs '^\[profile\.ci\]' .config/nextest.toml; then
        echo --profile ci
    fi
}

# A RabbitMQ vhost of this run's own, so that whatever a failed test leaves
# on the broker (its queues and exchanges) goes when the vhost is deleted at
# exit. Vhosts of earlier runs whose process is gone are deleted first. Only
# where rabbitmqctl reaches the broker of AMQP_URL (a local one); otherwise
# the tests use AMQP_URL as given and clean up after themselves.
TEST_VHOST=''
rabbit_cli_for_run() {
    if ((TACH_AMQP_STARTED)); then
        tach_rabbit "$@"
    else
        "$@"
    fi
}

rabbitmqctl_for_run() {
    rabbit_cli_for_run rabbitmqctl "$@"
}

test_vhost_up() {
    local host port user vhost listeners
    [[ $AMQP_URL != *\?* ]] || return 0
    read -r host port < <(tach_url_host_port "$AMQP_URL" 127.0.0.1 5672)
    [[ $host == 127.0.0.1 || $host == localhost ]] || return 0
    ((TACH_AMQP_STARTED)) || command -v rabbitmqctl rabbitmq-diagnostics >/dev/null || return 0
    # The node rabbitmqctl talks to must be the one listening on AMQP_URL's port.
    listeners=$(rabbit_cli_for_run rabbitmq-diagnostics -q listeners 2>/dev/null) || return 0
    [[ $listeners == *"port: $port, protocol: amqp"* ]] || return 0
    while read -r vhost; do
        [[ $vhost =~ ^tach-test-([0-9]+)$ ]] || continue
        kill -0 "${BASH_REMATCH[1]}" 2>/dev/null ||
            rabbitmqctl_for_run -q delete_vhost "$vhost" >/dev/null 2>&1 || true
    done < <(rabbitmqctl_for_run -q list_vhosts name 2>/dev/null)
    user=$(printf '%s' "$AMQP_URL" | sed -nE 's#^[^:]+://([^:@/]+).*@.*#\1#p')
    vhost=tach-test-$$
    rabbitmqctl_for_run -q add_vhost "$vhost" >/dev/null 2>&1 || return 0
    if ! rabbitmqctl_for_run -q set_permissions -p "$vhost" "${user:-guest}" '.*' '.*' '.*' >/dev/null 2>&1; then
        rabbitmqctl_for_run -q delete_vhost "$vhost" >/dev/null 2>&1 || true
        return 0
    fi
    TEST_VHOST=$vhost
    AMQP_URL="${AMQP_URL%/*}/$vhost"
    export AMQP_URL
    tach_say "tests use the RabbitMQ vhost $vhost (deleted at exit, with anything left in it)"
}

test_vhost_down() {
    [[ -n $TEST_VHOST ]] || return 0
    rabbitmqctl_for_run -q delete_vhost "$TEST_VHOST" >/dev/null 2>&1 ||
        tach_say "could not delete the RabbitMQ vhost $TEST_VHOST"
    TEST_VHOST=''
}

stop_services_at_exit() {
    test_vhost_down
    if [[ ${TACH_KEEP_SERVICES:-0} == 1 ]]; then
        tach_say "TACH_KEEP_SERVICES=1: leaving PostgreSQL and RabbitMQ running"
    else
        tach_services_down || true
    fi
}

main() {
    case ${1:-} in
        -h | --help) usage; return 0 ;;
        --checks-only) tach_check_deploy_files; return ;;
    esac

    tach_ensure_nextest
    trap stop_services_at_exit EXIT
    # The tests take a server URL and make their own databases; "postgres"
    # always exists to connect to.
    TACH_DB_NAME=${TACH_DB_NAME:-postgres} tach_services_up
    test_vhost_up
    # The metrics test lints both services' /metrics with promtool (CLIENTS.md §4).
    local promtool
    if promtool=$(tach_ensure_promtool); then
        export TACH_PROMTOOL=$promtool
    fi
    # The console's tests drive a real browser; without one they fail and say so.
    local chromium
    if chromium=$(tach_ensure_chromium); then
        export TACH_CHROMIUM=$chromium
    fi

    local test_status=0 check_status=0
    local -a profile_args
    read -r -a profile_args <<<"$(nextest_profile_args)"
    tach_say "running: cargo nextest run --workspace --no-fail-fast ${profile_args[*]} $*"
    cargo nextest run --workspace --no-fail-fast "${profile_args[@]}" "$@" || test_status=$?

    tach_check_deploy_files || check_status=$?
    if ((test_status != 0)); then
        tach_say "tests FAILED (status $test_status)"
        return "$test_status"
    fi
    if ((check_status != 0)); then
        tach_say "tests passed; deployment checks FAILED"
        return 1
    fi
    tach_say "tests passed"
}

main "$@"
