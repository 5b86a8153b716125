#!/usr/bin/env bash
# Checks the deployment files under deploy/ without Docker, a cluster or a
# running Prometheus:
#   - promtool: prometheus.yml is valid, alerts.yml is valid, alerts_test.yml passes
#   - every *.yml / *.yaml (all documents) and *.json under deploy/ parses
#   - alert and dashboard expressions name only shortener_* metrics (or up),
#     and every dashboard expression is valid PromQL
#   - the dashboard, Grafana provisioning, compose file and Kubernetes
#     manifests agree with each other (uids, mounts, job names, KEDA streams,
#     the PrometheusRule copy of alerts.yml, no committed secrets)
#   - kustomize renders deploy/k8s (when kubectl or kustomize is installed)
# Installs promtool (Debian package prometheus) and python3-yaml with apt-get
# when they are missing and it runs as root; otherwise says what to install.
# Run from anywhere:  bash deploy/check.sh
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '%s\n' "$*"; }
die() { printf 'check.sh: %s\n' "$*" >&2; exit 1; }

apt_updated=
apt_install() {
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    die "$1 is missing. Install it with:  sudo apt-get install -y $2"
  fi
  say "installing $2 with apt-get…"
  export DEBIAN_FRONTEND=noninteractive
  if [ -z "$apt_updated" ]; then apt-get update -qq; apt_updated=1; fi
  # Debian's prometheus package may try to start its service; in a container
  # without an init system that is refused, which is harmless: nothing below
  # needs a running Prometheus.
  apt-get install -y -qq --no-install-recommends "$2" >/dev/null
}

# --- tools -------------------------------------------------------------------
command -v promtool >/dev/null 2>&1 || apt_install promtool prometheus
command -v promtool >/dev/null 2>&1 || die "promtool still missing after installing prometheus"

PY=
for p in python3 /usr/bin/python3; do
  if command -v "$p" >/dev/null 2>&1 && "$p" -c 'import yaml' 2>/dev/null; then PY=$p; break; fi
done
if [ -z "$PY" ]; then
  command -v /usr/bin/python3 >/dev/null 2>&1 || apt_install python3 python3
  apt_install "python3's yaml module" python3-yaml
  /usr/bin/python3 -c 'import yaml' 2>/dev/null || die "python3 cannot import yaml after installing python3-yaml"
  PY=/usr/bin/python3
fi
say "tools: $(promtool --version 2>&1 | head -1); $("$PY" --version 2>&1) with PyYAML"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# --- Prometheus ----------------------------------------------------------------
say "== promtool check config deploy/prometheus/prometheus.yml (rule_files resolved next to it)"
promtool check config deploy/prometheus/prometheus.yml
say "== promtool check rules deploy/prometheus/alerts.yml"
promtool check rules deploy/prometheus/alerts.yml
say "== promtool test rules deploy/prometheus/alerts_test.yml"
promtool test rules deploy/prometheus/alerts_test.yml

# --- files, names and cross-references ----------------------------------------
say "== parsing and cross-checking deploy/ with $PY"
"$PY" - "$tmp/dashboard-rules.yml" <<'PYEOF'
import glob, json, os, re, sys

import yaml

out_rules = sys.argv[1]
errors = []
def fail(msg):
    errors.append(msg)

def load_yaml_docs(path):
    with open(path, encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f)]

# 1. Every YAML (all documents) and JSON file under deploy/ parses.
parsed = {}
files = sorted(set(glob.glob("deploy/**/*.yml", recursive=True) + glob.glob("deploy/**/*.yaml", recursive=True)
                   + glob.glob("deploy/**/.*.yml", recursive=True) + glob.glob("deploy/**/.*.yaml", recursive=True)))
for path in files:
    try:
        parsed[path] = load_yaml_docs(path)
    except Exception as e:  # yaml.YAMLError and decoding errors
        fail("%s: YAML does not parse: %s" % (path, e))
jsons = sorted(glob.glob("deploy/**/*.json", recursive=True))
for path in jsons:
    try:
        with open(path, encoding="utf-8") as f:
            parsed[path] = [json.load(f)]
    except Exception as e:
        fail("%s: JSON does not parse: %s" % (path, e))
print("parsed %d YAML files (%d documents) and %d JSON files" % (
    len(files), sum(len(parsed.get(p, [])) for p in files), len(jsons)))
if errors:
    for e in errors:
        print("FAIL: " + e, file=sys.stderr)
    sys.exit(1)

def one(path):
    docs = parsed.get(path)
    if not docs:
        fail("%s: missing or empty" % path)
        return {}
    return docs[0]

# 2. Metric names in PromQL: only shortener_* or up.
KEYWORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right",
            "offset", "bool", "inf", "nan"}
def metric_names(expr):
    e = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`', '""', expr)  # string literals
    e = re.sub(r"\{[^}]*\}", " ", e)                                            # label matchers
    e = re.sub(r"\[[^\]]*\]", " ", e)                                           # ranges, subqueries
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", e)  # label lists
    names = set()
    for m in re.finditer(r"(?<![\w$.])([A-Za-z_:][A-Za-z0-9_:]*)", e):
        if e[m.end():].lstrip().startswith("("):
            continue  # a function or an aggregation
        if m.group(1).lower() in KEYWORDS:
            continue
        names.add(m.group(1))
    return names
def allowed(name):
    return name.startswith("shortener_") or name == "up"

alerts = one("deploy/prometheus/alerts.yml")
n_alert_exprs = 0
alert_names = []
for g in alerts.get("groups", []):
    for r in g.get("rules", []):
        n_alert_exprs += 1
        name = r.get("alert") or r.get("record")
        alert_names.append(name)
        names = metric_names(str(r.get("expr", "")))
        if not names:
            fail("alerts.yml %s: no metric name found in expr" % name)
        for m in sorted(names):
            if not allowed(m):
                fail("alerts.yml %s: expr uses metric %r (want shortener_* or up)" % (name, m))
        if "alert" in r:
            if not r.get("for"):
                fail("alerts.yml %s: no for:" % name)
            if not r.get("labels", {}).get("severity"):
                fail("alerts.yml %s: no severity label" % name)
            ann = r.get("annotations", {})
            if not ann.get("summary") or not ann.get("description"):
                fail("alerts.yml %s: needs summary and description annotations" % name)
for want in ["ShortenerWorkerLagGrowing", "ShortenerClicksDropped", "ShortenerRedisUnreachable",
             "ShortenerEdgeErrorRatio", "ShortenerRedirectLatencyHigh", "ShortenerDeadLetters"]:
    if want not in alert_names:
        fail("alerts.yml: alert %s is missing" % want)
print("alerts.yml: %d rules; every expr names only shortener_* / up; each alert has for, severity, summary, description" % n_alert_exprs)

# 3. The dashboard.
dash_path = "deploy/grafana/dashboards/shortener.json"
dash = one(dash_path)
if dash.get("uid") != "shortener":
    fail("%s: uid is %r, want \"shortener\"" % (dash_path, dash.get("uid")))
if dash.get("schemaVersion") != 39:
    fail("%s: schemaVersion is %r, want 39" % (dash_path, dash.get("schemaVersion")))
with open(dash_path, encoding="utf-8") as f:
    if "${DS_" in f.read():
        fail("%s: uses a ${DS_…} input; use the provisioned datasource uid \"prometheus\"" % dash_path)
def all_panels(panels):
    for p in panels:
        yield p
        yield from all_panels(p.get("panels", []))
panels = list(all_panels(dash.get("panels", [])))
ids = [p.get("id") for p in panels]
if len(ids) != len(set(ids)):
    fail("%s: panel ids are not unique" % dash_path)
dash_exprs = []
for p in panels:
    if p.get("type") == "row":
        continue
    ds = p.get("datasource") or {}
    if ds.get("uid") != "prometheus":
        fail("%s: panel %r: datasource uid %r, want \"prometheus\"" % (dash_path, p.get("title"), ds.get("uid")))
    if not p.get("targets"):
        fail("%s: panel %r has no targets" % (dash_path, p.get("title")))
    for t in p.get("targets", []):
        if (t.get("datasource") or {}).get("uid", "prometheus") != "prometheus":
            fail("%s: panel %r: a target's datasource is not uid \"prometheus\"" % (dash_path, p.get("title")))
        expr = t.get("expr", "")
        if not expr:
            fail("%s: panel %r: a target without expr" % (dash_path, p.get("title")))
            continue
        dash_exprs.append((p.get("title"), expr))
        names = metric_names(expr)
        if not names:
            fail("%s: panel %r: no metric name found in %r" % (dash_path, p.get("title"), expr))
        for m in sorted(names):
            if not allowed(m):
                fail("%s: panel %r: expr uses metric %r (want shortener_* or up)" % (dash_path, p.get("title"), m))
used = " ".join(e for _, e in dash_exprs)
for want in ["shortener_worker_clicks_total", "shortener_worker_clicks_by_country_total",
             "shortener_worker_clicks_by_device_total", "shortener_worker_clicks_by_browser_total",
             "shortener_worker_clicks_by_os_total", "shortener_worker_clicks_by_referer_total",
             "shortener_edge_request_duration_seconds_bucket", "shortener_edge_cache_lookups_total",
             "shortener_worker_consumer_lag", "shortener_worker_pending_entries",
             "shortener_edge_clicks_dropped_total", "shortener_edge_redirects_total"]:
    if want not in used:
        fail("%s: no panel uses %s" % (dash_path, want))
# Grafana's variables replaced by sample values, so promtool can parse every query.
subst = {"$__rate_interval": "1m", "$__interval": "1m", "$__range": "1h", "${__range}": "1h",
         "${__rate_interval}": "1m", "${__interval}": "1m"}
rules = []
for i, (title, expr) in enumerate(dash_exprs):
    for k in sorted(subst, key=len, reverse=True):
        expr = expr.replace(k, subst[k])
    if "$" in expr:
        fail("%s: panel %r: unknown variable in %r" % (dash_path, title, expr))
    rules.append({"record": "dashboard:query:%d" % i, "expr": expr})
with open(out_rules, "w", encoding="utf-8") as f:
    yaml.safe_dump({"groups": [{"name": "dashboard-queries", "rules": rules}]}, f, sort_keys=False)
with open(out_rules + ".panels", "w", encoding="utf-8") as f:
    for i, (title, expr) in enumerate(dash_exprs):
        f.write("dashboard:query:%d = panel %r: %s\n" % (i, title, expr))
print("%s: uid shortener, schemaVersion 39, %d panels on datasource uid prometheus; %d queries name only shortener_* / up"
      % (dash_path, len([p for p in panels if p.get("type") != "row"]), len(dash_exprs)))

# 4. Grafana provisioning against the compose mounts.
compose_path = "deploy/compose/compose.yaml"
compose = one(compose_path)
services = compose.get("services", {})
dsdoc = one("deploy/grafana/provisioning/datasources/prometheus.yml")
dss = dsdoc.get("datasources", [])
if not any(d.get("uid") == "prometheus" and d.get("url") == "http://prometheus:9090" for d in dss):
    fail("grafana datasource: want uid prometheus with url http://prometheus:9090")
prov = one("deploy/grafana/provisioning/dashboards/shortener.yml")
prov_paths = [p.get("options", {}).get("path") for p in prov.get("providers", [])]
def binds(svc):
    out = []
    for v in services.get(svc, {}).get("volumes", []):
        if isinstance(v, str):
            parts = v.split(":")
            src, dst = parts[0], parts[1] if len(parts) > 1 else ""
        else:
            src, dst = v.get("source", ""), v.get("target", "")
        out.append((src, dst))
    return out
compose_dir = os.path.dirname(compose_path)
def resolve(src):
    return os.path.normpath(os.path.join(compose_dir, src))
graf = binds("grafana")
dash_mount = [dst for src, dst in graf if src.startswith(".") and resolve(src) == "deploy/grafana/dashboards"]
if not dash_mount:
    fail("compose: grafana does not mount deploy/grafana/dashboards")
elif dash_mount[0] not in prov_paths:
    fail("grafana dashboard provider path %r is not where compose mounts the dashboards (%s)" % (prov_paths, dash_mount[0]))
print("grafana provisioning: datasource uid prometheus; dashboard provider reads %s (the compose mount)" % prov_paths)

# 5. The compose file: services, bind sources that exist, build context, no committed admin key.
for want in ["redis", "edge", "worker", "prometheus", "grafana"]:
    if want not in services:
        fail("compose: service %s is missing" % want)
n_binds = 0
for svc in services:
    for src, dst in binds(svc):
        if src.startswith("."):
            n_binds += 1
            if not os.path.exists(resolve(src)):
                fail("compose: %s mounts %s, which does not exist (%s)" % (svc, src, resolve(src)))
for svc in ["edge", "worker"]:
    b = services.get(svc, {}).get("build")
    if isinstance(b, dict):
        ctx = resolve(b.get("context", "."))
        if not os.path.exists(os.path.join(ctx, "go.mod")):
            fail("compose: %s build context %s holds no go.mod" % (svc, ctx))
        if not os.path.exists(os.path.join(ctx, b.get("dockerfile", "Dockerfile"))):
            fail("compose: %s dockerfile %s not found in %s" % (svc, b.get("dockerfile"), ctx))
    cmd = services.get(svc, {}).get("command")
    if cmd != ["/" + svc]:
        fail("compose: %s command is %r, want [\"/%s\"]" % (svc, cmd, svc))
env = services.get("edge", {}).get("environment", {})
key = env.get("SHORTENER_ADMIN_KEY") if isinstance(env, dict) else None
if key is None or not re.fullmatch(r"\$\{SHORTENER_ADMIN_KEY(:?-)?\}", str(key)):
    fail("compose: edge SHORTENER_ADMIN_KEY must come from the environment with no default, got %r" % key)
print("compose: 5 services, %d bind mounts exist, build context and Dockerfile found, admin key from the environment" % n_binds)

# 6. Prometheus scrape jobs the alerts rely on.
prom = one("deploy/prometheus/prometheus.yml")
jobs = [s.get("job_name") for s in prom.get("scrape_configs", [])]
for want in ["shortener-edge", "shortener-worker"]:
    if want not in jobs:
        fail("prometheus.yml: scrape job %s is missing (the alerts match job names)" % want)
for s in prom.get("scrape_configs", []):
    if s.get("job_name", "").startswith("shortener-") and s.get("scrape_interval", prom.get("global", {}).get("scrape_interval")) != "15s":
        fail("prometheus.yml: %s is not scraped every 15s" % s.get("job_name"))
print("prometheus.yml: jobs %s" % jobs)

# 7. Kubernetes manifests.
k8s = {}
for path in sorted(glob.glob("deploy/k8s/*.yaml") + glob.glob("deploy/k8s/*.yml")):
    for d in parsed.get(path, []):
        if isinstance(d, dict) and d.get("kind"):
            k8s.setdefault(d["kind"], []).append((path, d))
if "Secret" in k8s:
    fail("deploy/k8s: a Secret is committed (%s); reference shortener-admin instead" % k8s["Secret"][0][0])
for path, d in sum(k8s.values(), []):
    if d.get("metadata", {}).get("namespace"):
        fail("%s: %s %s sets a namespace; the manifests are namespace-free" % (path, d["kind"], d["metadata"].get("name")))
so = [d for _, d in k8s.get("ScaledObject", [])]
if len(so) != 1:
    fail("deploy/k8s: want one ScaledObject, found %d" % len(so))
else:
    trig = so[0].get("spec", {}).get("triggers", [])
    streams = [t.get("metadata", {}).get("stream") for t in trig]
    want_streams = ["clicks:{p%d}" % i for i in range(16)]
    if streams != want_streams:
        fail("ScaledObject: streams %r, want clicks:{p0} … clicks:{p15}" % streams)
    for t in trig:
        md = t.get("metadata", {})
        if t.get("type") != "redis-streams" or md.get("consumerGroup") != "analytics" or not md.get("lagCount", "").isdigit():
            fail("ScaledObject: trigger %r must be redis-streams, group analytics, a numeric lagCount" % md.get("stream"))
        if not (md.get("address") or md.get("addressFromEnv")):
            fail("ScaledObject: trigger %r has no address" % md.get("stream"))
    spec = so[0].get("spec", {})
    if (spec.get("minReplicaCount"), spec.get("maxReplicaCount")) != (1, 10):
        fail("ScaledObject: replicas %r–%r, want 1–10" % (spec.get("minReplicaCount"), spec.get("maxReplicaCount")))
pr = [d for _, d in k8s.get("PrometheusRule", [])]
if pr and pr[0].get("spec") != alerts:
    fail("deploy/k8s/prometheusrule.yaml differs from deploy/prometheus/alerts.yml: copy the groups again")
print("k8s: %s; KEDA triggers clicks:{p0}…{p15}; PrometheusRule %s alerts.yml; no Secret committed"
      % (", ".join("%d %s" % (len(v), k) for k, v in sorted(k8s.items())), "equals" if pr else "absent, not compared with"))

# 8. The Dockerfile (it cannot be built here).
with open("deploy/Dockerfile", encoding="utf-8") as f:
    df = f.read()
lines = [l.strip() for l in df.splitlines() if l.strip() and not l.strip().startswith("#")]
froms = [l for l in lines if l.upper().startswith("FROM ")]
if len(froms) < 2 or "golang:1.26-bookworm" not in froms[0] or "gcr.io/distroless/static-debian12:nonroot" not in froms[-1]:
    fail("Dockerfile: want a golang:1.26-bookworm build stage and a distroless/static-debian12:nonroot final stage")
if any(l.upper().startswith("ENTRYPOINT") for l in lines):
    fail("Dockerfile: no ENTRYPOINT (the command picks /edge or /worker)")
for want in ["CGO_ENABLED=0", "-trimpath", "-X main.version=${VERSION}", "./edge", "./worker", "/edge", "/worker", "USER nonroot"]:
    if want not in df:
        fail("Dockerfile: %r not found" % want)
print("Dockerfile: %d stages, static build of ./edge and ./worker, distroless nonroot, no ENTRYPOINT (not built: needs a Docker engine)" % len(froms))

if errors:
    for e in errors:
        print("FAIL: " + e, file=sys.stderr)
    sys.exit(1)
PYEOF

say "== promtool check rules on the dashboard's queries (Grafana variables replaced by sample durations)"
promtool check rules "$tmp/dashboard-rules.yml" >/dev/null || {
  promtool check rules "$tmp/dashboard-rules.yml" || true
  cat "$tmp/dashboard-rules.yml.panels" >&2
  die "a dashboard query is not valid PromQL (rule names above map to panels)"
}
say "dashboard queries: valid PromQL"

# --- kustomize -----------------------------------------------------------------
if command -v kubectl >/dev/null 2>&1; then
  say "== kubectl kustomize deploy/k8s"
  kubectl kustomize deploy/k8s >"$tmp/k8s.yaml"
elif command -v kustomize >/dev/null 2>&1; then
  say "== kustomize build deploy/k8s"
  kustomize build deploy/k8s >"$tmp/k8s.yaml"
else
  say "== kustomize render skipped (neither kubectl nor kustomize is installed)"
fi
if [ -s "$tmp/k8s.yaml" ]; then
  "$PY" - "$tmp/k8s.yaml" <<'PYEOF'
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
kinds = sorted("%s/%s" % (d["kind"], d["metadata"]["name"]) for d in docs)
print("rendered %d objects: %s" % (len(docs), ", ".join(kinds)))
PYEOF
fi

say "deploy/check.sh: all checks passed"
