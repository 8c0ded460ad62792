#!/usr/bin/env python3
"""What the Kubernetes schemas cannot check in rendered rlog manifests: that
the objects fit together. Used by test/k8s_test.sh (needs PyYAML: run it with
the k8s-validate venv's python).

    check.py NODES FILE      exit 0 and one line when every check holds,
                             exit 1 and one line per broken one otherwise

Checks: the Services select the right pods (headless: all, publishing not
ready ones; client: the master only); the StatefulSets' counts (1 master,
NODES-1 secondaries) and the master's RLOG_REPLICAS agree; the secondaries
reach the master at its pod's headless DNS name; the PodDisruptionBudget
(maxUnavailable 1) covers every pod; every pod runs as 10001, read-only root,
no privilege escalation, no capabilities, no service links; three logcli
status probes; the data volume claim is mounted where RLOG_DATA_DIR points;
every key file rlogd or logcli is told to read is projected from the Secret;
the master knows every secondary's id (RLOG_SECONDARIES: the secondaries'
pod names) and has a node key for each under its nodes directory, no secret
key sits in a directory of public keys; a rendered Secret holds every key
the pods project, as CURVE certificates.
"""
import base64
import re
import sys

import yaml

PROBE = ["/usr/local/bin/logcli", "--retry-ms", "500", "--retries", "2", "status"]
problems = []


def check(cond, what):
    if not cond:
        problems.append(what)
    return cond


def selects(selector, labels):
    return all(labels.get(k) == v for k, v in selector.items())


def env_of(container):
    names = [e["name"] for e in container.get("env", [])]
    check(len(names) == len(set(names)), f"{container['name']}: an environment variable twice: {names}")
    return {e["name"]: e.get("value") for e in container.get("env", [])}


def key_paths(podspec):
    """/keys/... paths projected from the Secret, and the Secret's keys used."""
    paths, keys, secret = set(), set(), None
    for v in podspec.get("volumes", []):
        if "secret" in v:
            secret = v["secret"]["secretName"]
            for it in v["secret"].get("items", []):
                keys.add(it["key"])
                paths.add("/keys/" + it["path"])
    return paths, keys, secret


def check_statefulset(sts, role, replicas, headless, docs):
    name = sts["metadata"]["name"]
    spec = sts["spec"]
    tmpl = spec["template"]
    pod = tmpl["spec"]
    labels = tmpl["metadata"]["labels"]
    check(spec["replicas"] == replicas, f"{name}: replicas {spec['replicas']}, want {replicas}")
    check(spec["serviceName"] == headless, f"{name}: serviceName {spec['serviceName']}, want {headless}")
    check(selects(spec["selector"]["matchLabels"], labels), f"{name}: selector does not match its pods")
    check(labels.get("app.kubernetes.io/component") == role, f"{name}: pods not labelled component={role}")
    sc = pod.get("securityContext", {})
    check(sc.get("runAsNonRoot") is True and sc.get("runAsUser") == 10001,
          f"{name}: pods not non-root 10001")
    check(sc.get("fsGroup") == 10001, f"{name}: no fsGroup 10001 (the volume and the keys' group)")
    check(pod.get("enableServiceLinks") is False, f"{name}: service links on (RLOG_* variables)")
    check(pod.get("automountServiceAccountToken") is False, f"{name}: service account token mounted")
    (c,) = pod["containers"]
    csc = c.get("securityContext", {})
    check(csc.get("readOnlyRootFilesystem") is True, f"{name}: root file system not read-only")
    check(csc.get("allowPrivilegeEscalation") is False, f"{name}: privilege escalation allowed")
    check(csc.get("capabilities", {}).get("drop") == ["ALL"], f"{name}: capabilities not all dropped")
    for p in ("startupProbe", "readinessProbe", "livenessProbe"):
        check(c.get(p, {}).get("exec", {}).get("command") == PROBE, f"{name}: {p} is not logcli status")
    req = c.get("resources", {}).get("requests", {})
    check("cpu" in req and "memory" in req, f"{name}: no cpu and memory requests")
    check(c["args"][0] == role, f"{name}: runs rlogd {c['args'][0]}, want {role}")
    env = env_of(c)
    mounts = {m["mountPath"]: m["name"] for m in c.get("volumeMounts", [])}
    claims = [t["metadata"]["name"] for t in spec.get("volumeClaimTemplates", [])]
    check(mounts.get("/data") in claims, f"{name}: no volume claim mounted on /data")
    check((env.get("RLOG_DATA_DIR") or "").startswith("/data/"), f"{name}: RLOG_DATA_DIR not on /data")
    check(mounts.get("/keys") == "keys", f"{name}: the keys volume is not on /keys")

    # every file rlogd and logcli are told to read is there
    paths, keys, secret = key_paths(pod)
    args = c["args"]
    want = []
    if "--curve-secret" in args:
        want.append(args[args.index("--curve-secret") + 1] + "_secret")   # rlogd's own
    if env.get("RLOG_CURVE_SECRET"):
        want.append(env["RLOG_CURVE_SECRET"] + "_secret")                  # logcli's
    for k in ("RLOG_SERVER_KEY", "RLOG_MASTER_KEY"):
        if env.get(k):
            want.append(env[k])
    for w in want:
        check(w in paths, f"{name}: {w} is read but not projected from the Secret")
    clients = env.get("RLOG_CURVE_ALLOW_CLIENTS")
    check(clients and any(p.startswith(clients + "/") for p in paths),
          f"{name}: client key directory empty")
    nodes = env.get("RLOG_CURVE_ALLOW_NODES")
    check((role == "master") == bool(nodes), f"{name}: RLOG_CURVE_ALLOW_NODES {nodes}")
    for d in (clients, nodes):
        check(not any(d and p.startswith(d + "/") and p.endswith("_secret") for p in paths),
              f"{name}: a secret key in {d}")
    if nodes:
        ids = (env.get("RLOG_SECONDARIES") or "").split(",")
        for i in ids:
            check(f"{nodes}/{i}" in paths, f"{name}: no node key for secondary '{i}' in {nodes}")
    secrets = [d for d in docs if d["kind"] == "Secret"]
    for s in secrets:
        if s["metadata"]["name"] == secret:
            missing = keys - set(s.get("data", {}))
            check(not missing, f"{name}: the Secret {secret} lacks {sorted(missing)}")
            for k, v in s.get("data", {}).items():
                check(b"curve" in base64.b64decode(v), f"Secret {secret}: {k} is no CURVE certificate")
    return labels, env


def main(argv):
    if len(argv) != 2:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    nodes, path = int(argv[0]), argv[1]
    with open(path) as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    kinds = sorted(d["kind"] for d in docs)
    want = sorted(["PodDisruptionBudget", "Service", "Service", "StatefulSet", "StatefulSet"])
    if "Secret" in kinds:
        want = sorted(want + ["Secret"])
    if not check(kinds == want, f"objects {kinds}, want {want}"):
        print("\n".join(problems))
        return 1
    services = [d for d in docs if d["kind"] == "Service"]
    headless = [s for s in services if s["spec"].get("clusterIP") == "None"]
    client = [s for s in services if s["spec"].get("clusterIP") != "None"]
    check(len(headless) == 1 and len(client) == 1, "want one headless and one client Service")
    headless, client = headless[0], client[0]
    check(headless["spec"].get("publishNotReadyAddresses") is True,
          "headless Service without publishNotReadyAddresses")
    sts = {d["spec"]["template"]["metadata"]["labels"].get("app.kubernetes.io/component"): d
           for d in docs if d["kind"] == "StatefulSet"}
    if not check(set(sts) == {"master", "secondary"}, f"StatefulSets of components {sorted(sts)}"):
        print("\n".join(problems))
        return 1
    hname = headless["metadata"]["name"]
    mlabels, menv = check_statefulset(sts["master"], "master", 1, hname, docs)
    slabels, senv = check_statefulset(sts["secondary"], "secondary", nodes - 1, hname, docs)
    check(menv.get("RLOG_REPLICAS") == str(nodes - 1),
          f"master RLOG_REPLICAS {menv.get('RLOG_REPLICAS')}, want {nodes - 1}")
    # the secondaries' ids are their pod names: the master must know each
    ids = [f"{sts['secondary']['metadata']['name']}-{i}" for i in range(nodes - 1)]
    check(menv.get("RLOG_SECONDARIES") == ",".join(ids),
          f"master RLOG_SECONDARIES {menv.get('RLOG_SECONDARIES')}, want {','.join(ids)}")
    (sc0,) = sts["secondary"]["spec"]["template"]["spec"]["containers"]
    rid = [e for e in sc0["env"] if e["name"] == "RLOG_ID"]
    check(rid and rid[0].get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") == "metadata.name",
          "secondary: RLOG_ID is not the pod's name")
    # the master pod's full DNS name, the namespace from the downward API
    # (defined before it is used: $(VAR) takes only earlier variables)
    master_dns = f"{sts['master']['metadata']['name']}-0.{hname}.$(POD_NAMESPACE).svc."
    (sc,) = sts["secondary"]["spec"]["template"]["spec"]["containers"]
    names = [e["name"] for e in sc["env"]]
    ns = [e for e in sc["env"] if e["name"] == "POD_NAMESPACE"]
    check(ns and ns[0].get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") == "metadata.namespace",
          "secondary: POD_NAMESPACE is not the pod's namespace")
    for k in ("RLOG_MASTER_PUB", "RLOG_MASTER_PEER"):
        v = senv.get(k) or ""
        check(v.startswith(f"tcp://{master_dns}") and re.search(r"\.:[0-9]+\Z", v),
              f"secondary {k} {v}, want tcp://{master_dns}DOMAIN.:PORT")
        check(ns and k in names and names.index("POD_NAMESPACE") < names.index(k),
              f"secondary: POD_NAMESPACE defined after {k}")
    sel = headless["spec"]["selector"]
    check(selects(sel, mlabels) and selects(sel, slabels), "headless Service does not select every pod")
    sel = client["spec"]["selector"]
    check(selects(sel, mlabels) and not selects(sel, slabels), "client Service does not select the master alone")
    (pdb,) = [d for d in docs if d["kind"] == "PodDisruptionBudget"]
    check(pdb["spec"].get("maxUnavailable") == 1, "PodDisruptionBudget maxUnavailable is not 1")
    sel = pdb["spec"]["selector"]["matchLabels"]
    check(selects(sel, mlabels) and selects(sel, slabels), "PodDisruptionBudget does not cover every pod")
    if problems:
        print("\n".join(problems))
        return 1
    print(f"{path}: {nodes} nodes: {len(docs)} objects fit together")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
