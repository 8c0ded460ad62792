#!/usr/bin/env python3
"""What the Kubernetes schemas cannot check in rendered rlog manifests: that
the objects fit together. Used by test/k8s_test.sh (needs PyYAML: run it with
the k8s-validate venv's python).

    check.py NODES FILE      exit 0 and one line when every check holds,
                             exit 1 and one line per broken one otherwise

Checks, for NODES elected nodes in one StatefulSet:
- the Services select every pod (headless: publishing not ready ones too,
  the client, pub and peer ports; client: the client port), the
  PodDisruptionBudget (maxUnavailable 1) covers every pod;
- the StatefulSet runs NODES pods, Parallel (an election needs a majority
  up), each `rlogd node` with its pod name as its id (RLOG_ID from the
  downward API) and the same RLOG_PEERS: every pod NAME-0..NAME-(NODES-1) at
  its full headless DNS name (namespace from the downward API, a final dot)
  on the client port, the container's pub and peer ports right after it;
  no pinned-role setting (RLOG_REPLICAS, RLOG_MASTER_*, ...); every $(VAR)
  defined before it is used;
- every pod runs as 10001, read-only root, no privilege escalation, no
  capabilities, no service links, no service account token; three logcli
  status probes; the data volume claim mounted where RLOG_DATA_DIR points;
- keys: every file rlogd or logcli reads is projected from the Secret, for
  each pod (its own certificate, /keys/$(RLOG_ID)_secret, the client
  socket's certificate, RLOG_CURVE_CLIENT_CERT, and its public half as the
  probes' server key); every pod's client socket presents the same
  certificate, no node's and in neither key directory (the probes' server
  key is its public half); the nodes directory binds each member's id to
  that member's own public key; no secret key sits in a directory of public
  keys; a rendered Secret holds every key the pods project, as CURVE
  certificates, a different one for each node and another for the client
  sockets, whose public file and secret file hold the same key.
"""
import base64
import re
import sys

import yaml

PROBE = ["/usr/local/bin/logcli", "--retry-ms", "500", "--retries", "2", "status"]
# settings of `rlogd master` / `rlogd secondary` that an elected node ignores:
# present, they would only mislead a reader
PINNED = ["RLOG_REPLICAS", "RLOG_SECONDARIES", "RLOG_QUORUM", "RLOG_CLIENT", "RLOG_PUB",
          "RLOG_PEER", "RLOG_ADVERTISE", "RLOG_MASTER_PUB", "RLOG_MASTER_PEER",
          "RLOG_MASTER_KEY"]
problems = []


def public_key(blob):
    """The public-key of a CURVE certificate file (public or secret), or None."""
    m = re.search(rb'public-key = "([^"]{40})"', blob)
    return m.group(1) if m else None


def check(cond, what):
    if not cond:
        problems.append(what)
    return cond


def selects(selector, labels):
    return all(labels.get(k) == v for k, v in selector.items())


def field_ref(env, name):
    e = [x for x in env if x["name"] == name]
    return e[0].get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") if e else None


def expand(text, values):
    """$(VAR) replaced as the kubelet does, with VALUES."""
    return re.sub(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", lambda m: values.get(m.group(1), m.group(0)), text)


def check_pod(sts, nodes, headless, docs):
    name = sts["metadata"]["name"]
    spec = sts["spec"]
    tmpl = spec["template"]
    pod = tmpl["spec"]
    labels = tmpl["metadata"]["labels"]
    check(spec["replicas"] == nodes, f"{name}: replicas {spec['replicas']}, want {nodes}")
    check(spec["serviceName"] == headless, f"{name}: serviceName {spec['serviceName']}, want {headless}")
    check(spec.get("podManagementPolicy") == "Parallel",
          f"{name}: podManagementPolicy {spec.get('podManagementPolicy')}, want Parallel")
    check(selects(spec["selector"]["matchLabels"], labels), f"{name}: selector does not match its pods")
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
    args = c["args"]
    check(args[0] == "node", f"{name}: runs rlogd {args[0]}, want node (elected)")

    # the environment: each name once, each $(VAR) defined before its use
    env_list = c.get("env", [])
    names = [e["name"] for e in env_list]
    check(len(names) == len(set(names)), f"{name}: an environment variable twice: {names}")
    env = {e["name"]: e.get("value") for e in env_list}
    for i, e in enumerate(env_list):
        for var in re.findall(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", e.get("value") or ""):
            check(var in names[:i], f"{name}: {e['name']} uses $({var}) before it is defined")
    for a in args:
        for var in re.findall(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", a):
            check(var in names, f"{name}: an argument uses $({var}), which is not defined")
    for k in PINNED:
        check(k not in env, f"{name}: {k} is set: a pinned role's setting, ignored by rlogd node")
    check(field_ref(env_list, "RLOG_ID") == "metadata.name", f"{name}: RLOG_ID is not the pod's name")
    check(field_ref(env_list, "POD_NAMESPACE") == "metadata.namespace",
          f"{name}: POD_NAMESPACE is not the pod's namespace")

    # the members: every pod, at its headless DNS name, on the client port
    ports = {p.get("name"): p["containerPort"] for p in c.get("ports", [])}
    ids = [f"{name}-{i}" for i in range(nodes)]
    peers = [p.split("=", 1) for p in (env.get("RLOG_PEERS") or "").split(",") if p]
    check([p[0] for p in peers] == ids,
          f"{name}: RLOG_PEERS names {[p[0] for p in peers]}, want the pods {ids}")
    for pid, addr in (p for p in peers if len(p) == 2):
        want = f"{pid}.{headless}.$(POD_NAMESPACE).svc."
        check(addr.startswith(want) and re.search(r"\.:[0-9]+\Z", addr),
              f"{name}: RLOG_PEERS member {pid} at {addr}, want {want}DOMAIN.:PORT")
        port = int(addr.rsplit(":", 1)[1]) if re.search(r":[0-9]+\Z", addr) else None
        check(port == ports.get("client") and ports.get("pub") == (port or 0) + 1
              and ports.get("peer") == (port or 0) + 2,
              f"{name}: member {pid} on port {port}, the container's ports are {ports} "
              "(client PORT, pub PORT+1, peer PORT+2)")

    mounts = {m["mountPath"]: m["name"] for m in c.get("volumeMounts", [])}
    claims = [t["metadata"]["name"] for t in spec.get("volumeClaimTemplates", [])]
    check(mounts.get("/data") in claims, f"{name}: no volume claim mounted on /data")
    check((env.get("RLOG_DATA_DIR") or "").startswith("/data/"), f"{name}: RLOG_DATA_DIR not on /data")
    check(mounts.get("/keys") == "keys", f"{name}: the keys volume is not on /keys")

    # keys: what each pod reads is there
    items, secret = {}, None
    for v in pod.get("volumes", []):
        if "secret" in v:
            secret = v["secret"]["secretName"]
            for it in v["secret"].get("items", []):
                items["/keys/" + it["path"]] = it["key"]
    node_cert = args[args.index("--curve-secret") + 1] if "--curve-secret" in args else None
    check(node_cert, f"{name}: rlogd without --curve-secret")
    # the client socket's certificate (the flag wins over the environment):
    # the same on every pod, so that one server key does for all of them
    shared = env.get("RLOG_CURVE_CLIENT_CERT")
    if "--curve-client-cert" in args:
        shared = args[args.index("--curve-client-cert") + 1]
    check(shared, f"{name}: no RLOG_CURVE_CLIENT_CERT: each client port presents its own node's key, "
          "a client with one server key cannot follow the master")
    shared_keys = set()
    for pid in ids:
        own = {"RLOG_ID": pid}
        want = []
        if node_cert:
            want.append(expand(node_cert, own) + "_secret")                           # rlogd's
        if shared:
            want.append(expand(shared, own) + "_secret")                              # its client socket's
        if env.get("RLOG_CURVE_SECRET"):
            want.append(expand(env["RLOG_CURVE_SECRET"], own) + "_secret")            # logcli's
        if env.get("RLOG_SERVER_KEY"):
            want.append(expand(env["RLOG_SERVER_KEY"], own))                         # the probes'
        for w in want:
            check(w in items, f"{name}: pod {pid} reads {w}, which is not projected from the Secret")
        if node_cert:
            mine = expand(node_cert, own)
            check(items.get(mine + "_secret") == pid + "_secret",
                  f"{name}: pod {pid}'s certificate {mine}_secret is the Secret's "
                  f"{items.get(mine + '_secret')}, want {pid}_secret")
        # what the client socket presents (the shared certificate, else the
        # node's own): the probes' server key is its public half
        presents = shared or node_cert
        cert = items.get(expand(presents, own) + "_secret") if presents else None
        if shared:
            shared_keys.add(cert)
        if env.get("RLOG_SERVER_KEY") and cert:
            want_key = cert[:-len("_secret")]
            check(items.get(expand(env["RLOG_SERVER_KEY"], own)) == want_key,
                  f"{name}: pod {pid}'s probes expect the server key "
                  f"{items.get(expand(env['RLOG_SERVER_KEY'], own))}, want {want_key} "
                  "(the public half of the client socket's certificate)")
    shared_key = None
    if shared and check(len(shared_keys) == 1 and None not in shared_keys,
                        f"{name}: the pods' client sockets present {sorted(map(str, shared_keys))}, "
                        "want one certificate for all"):
        shared_key = shared_keys.pop()[:-len("_secret")]
        check(shared_key not in ids,
              f"{name}: the client sockets present {shared_key}, a node's key "
              "(every pod could pose as it to the others; rlogd refuses it)")
    clients = env.get("RLOG_CURVE_ALLOW_CLIENTS")
    check(clients and any(p.startswith(clients + "/") for p in items),
          f"{name}: client key directory empty")
    nodes_dir = env.get("RLOG_CURVE_ALLOW_NODES")
    if check(nodes_dir, f"{name}: no RLOG_CURVE_ALLOW_NODES: any key could vote as any member"):
        listed = sorted(p[len(nodes_dir) + 1:] for p in items if p.startswith(nodes_dir + "/"))
        check(listed == sorted(ids), f"{name}: {nodes_dir} holds {listed}, want every member {ids}")
        for pid in ids:
            check(items.get(f"{nodes_dir}/{pid}") == pid,
                  f"{name}: {nodes_dir}/{pid} is the Secret's {items.get(f'{nodes_dir}/{pid}')}, "
                  f"want {pid} (each id bound to its own key)")
    for d in (clients, nodes_dir):
        check(not any(d and p.startswith(d + "/") and p.endswith("_secret") for p in items),
              f"{name}: a secret key in {d}")
        check(not any(d and p.startswith(d + "/") and k in (shared_key, f"{shared_key}_secret")
                      for p, k in items.items()),
              f"{name}: the client sockets' certificate {shared_key} in {d}")
    for s in [d for d in docs if d["kind"] == "Secret"]:
        if s["metadata"]["name"] != secret:
            continue
        data = s.get("data", {})
        missing = set(items.values()) - set(data)
        check(not missing, f"{name}: the Secret {secret} lacks {sorted(missing)}")
        for k, v in data.items():
            check(b"curve" in base64.b64decode(v), f"Secret {secret}: {k} is no CURVE certificate")
        publics = [public_key(base64.b64decode(data[pid])) for pid in ids if pid in data]
        if shared_key in data and f"{shared_key}_secret" in data:
            mine = public_key(base64.b64decode(data[shared_key]))
            check(mine == public_key(base64.b64decode(data[f"{shared_key}_secret"])),
                  f"Secret {secret}: {shared_key} and {shared_key}_secret hold different keys")
            publics.append(mine)
        check(None not in publics and len(set(publics)) == len(publics),
              f"Secret {secret}: two nodes, or a node and the client sockets, share a key")
    return labels


def main(argv):
    if len(argv) != 2:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    nodes, path = int(argv[0]), argv[1]
    with open(path) as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    kinds = sorted(d["kind"] for d in docs)
    want = sorted(["PodDisruptionBudget", "Service", "Service", "StatefulSet"])
    if "Secret" in kinds:
        want = sorted(want + ["Secret"])
    if not check(kinds == want, f"objects {kinds}, want {want}"):
        print("\n".join(problems))
        return 1
    services = [d for d in docs if d["kind"] == "Service"]
    headless = [s for s in services if s["spec"].get("clusterIP") == "None"]
    client = [s for s in services if s["spec"].get("clusterIP") != "None"]
    if not check(len(headless) == 1 and len(client) == 1, "want one headless and one client Service"):
        print("\n".join(problems))
        return 1
    headless, client = headless[0], client[0]
    check(headless["spec"].get("publishNotReadyAddresses") is True,
          "headless Service without publishNotReadyAddresses")
    (sts,) = [d for d in docs if d["kind"] == "StatefulSet"]
    hname = headless["metadata"]["name"]
    labels = check_pod(sts, nodes, hname, docs)
    (c,) = sts["spec"]["template"]["spec"]["containers"]
    names = {p.get("name") for p in c.get("ports", [])}
    hports = {p["name"]: p.get("targetPort") for p in headless["spec"].get("ports", [])}
    check(set(hports) == {"client", "pub", "peer"} and set(hports.values()) <= names,
          f"headless Service ports {hports}, want client, pub and peer of the container ({sorted(names)})")
    cports = [p.get("targetPort") for p in client["spec"].get("ports", [])]
    check(cports == ["client"], f"client Service targets {cports}, want the client port alone")
    check(selects(headless["spec"]["selector"], labels), "headless Service does not select every pod")
    check(selects(client["spec"]["selector"], labels),
          "client Service does not select every pod (any node takes a client and names the master)")
    (pdb,) = [d for d in docs if d["kind"] == "PodDisruptionBudget"]
    check(pdb["spec"].get("maxUnavailable") == 1, "PodDisruptionBudget maxUnavailable is not 1")
    check(selects(pdb["spec"]["selector"]["matchLabels"], labels),
          "PodDisruptionBudget does not cover every pod")
    if problems:
        print("\n".join(problems))
        return 1
    print(f"{path}: {nodes} elected nodes: {len(docs)} objects fit together")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
