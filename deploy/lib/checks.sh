# shellcheck shell=bash
# Static checks of the deployment files, run by deploy/test.sh after the tests.
# Sourced after deploy/lib/services.sh. Each check prints one line per file; a
# tool that is missing and cannot be installed skips its check with a note.

# promtool: the scrape config (with the rule files it names), the alert rules,
# and the rules' unit tests.
tach_check_prometheus() {
    local promtool dir=deploy/prometheus
    if ! promtool=$(tach_ensure_promtool); then
        tach_say "SKIPPED Prometheus checks: promtool is not installed and could not be fetched from Debian's prometheus package"
        return 0
    fi
    tach_say "checking Prometheus files with $promtool"
    if ! { "$promtool" check config "$dir/prometheus.yml" &&
        "$promtool" check rules "$dir/alerts.yml" &&
        "$promtool" test rules "$dir/alerts_test.yml"; }; then
        tach_fail "promtool found a problem in $dir"
        return 1
    fi
}

# YAML syntax of the compose file and Kubernetes manifests, the shape a
# Kubernetes object must have, and tach.example.toml against the TACH_CONFIG
# schema (which tach-ingest reads with deny_unknown_fields).
tach_check_manifests() {
    if ! python3 -c 'import yaml' >/dev/null 2>&1; then
        tach_say "SKIPPED YAML checks: python3 with PyYAML is not available"
        return 0
    fi
    tach_say "checking compose, Kubernetes and TACH_CONFIG files (python3, PyYAML, tomllib)"
    python3 - <<'EOF' || { tach_fail "a deployment file is malformed"; return 1; }
import glob
import sys

import yaml

failed = False


def fail(path, why):
    global failed
    failed = True
    print(f"    {path}: {why}", file=sys.stderr)


def load_all(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


compose = load_all("deploy/compose.yaml")
if len(compose) != 1 or not isinstance(compose[0].get("services"), dict):
    fail("deploy/compose.yaml", "expected one document with a services mapping")
else:
    for name, service in compose[0]["services"].items():
        if "image" not in service and "build" not in service:
            fail("deploy/compose.yaml", f"service {name} has neither image nor build")

for path in sorted(glob.glob("deploy/k8s/*.yaml")):
    for doc in load_all(path):
        if path.endswith("kustomization.yaml"):
            continue
        for key in ("apiVersion", "kind", "metadata"):
            if key not in doc:
                fail(path, f"a document lacks {key}")
        if "name" not in (doc.get("metadata") or {}):
            fail(path, f"{doc.get('kind')} lacks metadata.name")

for path in sorted(glob.glob("deploy/prometheus/*.yml")):
    load_all(path)

# Grafana: the provisioned data source, and dashboards whose every query
# names it (tests/tests/e2e/metrics.rs checks the PromQL itself).
import json

sources = []
for path in sorted(glob.glob("deploy/grafana/provisioning/*/*.yml")):
    for doc in load_all(path):
        if doc.get("apiVersion") != 1:
            fail(path, "expected apiVersion: 1")
        sources += [s.get("uid") for s in doc.get("datasources", [])]
dashboards = sorted(glob.glob("deploy/grafana/dashboards/*.json"))
if not dashboards:
    fail("deploy/grafana/dashboards", "no dashboard")
for path in dashboards:
    try:
        with open(path) as f:
            dashboard = json.load(f)
    except ValueError as error:
        fail(path, f"not JSON: {error}")
        continue
    for key in ("uid", "title", "panels"):
        if key not in dashboard:
            fail(path, f"lacks {key}")
    panels = list(dashboard.get("panels", []))
    for panel in panels:
        panels += panel.get("panels", [])
        uid = (panel.get("datasource") or {}).get("uid")
        if panel.get("type") != "row" and uid not in sources:
            fail(path, f"panel {panel.get('title')!r} uses data source {uid!r}, not a provisioned one")
        for target in panel.get("targets", []):
            if not target.get("expr"):
                fail(path, f"panel {panel.get('title')!r} has a target without expr")

try:
    import tomllib
except ModuleNotFoundError:
    tomllib = None
if tomllib is not None:
    allowed = {"name", "amqp_url", "amqp_url_file", "amqp_urls", "delivery_limit", "exchange_durable", "queue_arguments", "queue_prefix", "exchange_prefix", "binding"}
    binding_allowed = {"exchange", "family", "routing_keys"}
    with open("deploy/tach.example.toml", "rb") as f:
        config = tomllib.load(f)
    if set(config) != {"deployment"} or not config["deployment"]:
        fail("deploy/tach.example.toml", "expected only [[deployment]] tables")
    for deployment in config.get("deployment", []):
        for key in set(deployment) - allowed:
            fail("deploy/tach.example.toml", f"unknown deployment key {key}")
        for binding in deployment.get("binding", []):
            for key in set(binding) - binding_allowed:
                fail("deploy/tach.example.toml", f"unknown binding key {key}")

sys.exit(1 if failed else 0)
EOF
}

tach_check_deploy_files() {
    local status=0
    tach_check_prometheus || status=1
    tach_check_manifests || status=1
    ((status == 0)) && tach_say "deployment files OK"
    return "$status"
}
