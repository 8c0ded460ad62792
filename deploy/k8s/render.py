#!/usr/bin/env python3
"""Render rlog's Kubernetes manifests: N elected nodes, one StatefulSet.

    deploy/k8s/render.py [--nodes N] [--keys DIR] [options] > rlog.yaml
    kubectl apply -n NAMESPACE -f rlog.yaml

deploy/k8s/rlog.yaml is this script's output with the defaults (3 nodes, no
Secret); test/k8s_test.sh checks that it is up to date. docs/DEPLOY.md tells
how to run it, add a node, replace one, back one up.

What it makes (NAME = --name, default rlog):
  Secret NAME-keys           only with --keys DIR (deploy/k8s/keys.sh DIR N makes
                             DIR): the CURVE certificates (each node's own, the
                             shared client-facing one, the client keys);
                             without it, create the Secret yourself
                             (docs/DEPLOY.md)
  Service NAME-headless      clusterIP None, publishNotReadyAddresses: every
                             pod's DNS name (POD.NAME-headless), ready or not:
                             the nodes find each other by it
  Service NAME               the client port (5555) of every pod that is ready:
                             a secondary names the master (NOT_MASTER), clients
                             follow it; every client port presents the same
                             key (cluster), so one server key does for all
  StatefulSet NAME           N pods, NAME-0..NAME-(N-1), each an elected node:
                             rlogd node --id POD --peers NAME-0=...,NAME-1=...
                             (the same list for all); whichever the majority
                             elects is master, and another is elected when it
                             is gone
  PodDisruptionBudget NAME   maxUnavailable 1 over all of them

One StatefulSet, one pod template: the image has no shell (FROM scratch), so
everything that differs between the pods comes from the pod's own name, by
the downward API (RLOG_ID) and $(RLOG_ID) in the arguments: its id and its
certificate. The node's command is made in one place, role_spec() below.

Only the standard library: it runs with any python3.
"""
import argparse
import base64
import os
import re
import sys

IMAGE_DEFAULT = "rlog:local"
# Every node's ports: clients on CLIENT, replication PUB on CLIENT+1, peers on
# CLIENT+2 (rlogd node takes them from its own --peers entry).
CLIENT, PUB, PEER = 5555, 5556, 5557
UID = 10001
# logcli's probe: exit 0 when the node answers on its own client port, with
# the client key and server key of the container's environment.
PROBE = ["/usr/local/bin/logcli", "--retry-ms", "500", "--retries", "2", "status"]
# The certificate every node's client socket presents (--curve-client-cert),
# the same on all of them: a client with its public half as its one server key
# is answered by any pod and follows NOT_MASTER and failovers. A certificate of
# its own, never a node's (rlogd refuses that): the links between nodes keep
# each node's key.
CLIENT_CERT = "cluster"


def node_ids(a):
    """The nodes' ids: the StatefulSet's pod names, NAME-0..NAME-(N-1)."""
    return [f"{a.name}-{i}" for i in range(a.nodes)]


def key_files(a):
    """The Secret's keys (= file names in deploy/k8s/keys.sh's DIR): each
    node's certificate, named by its id, the shared client-facing one, the
    probes' client key, and the public half of the operator's."""
    files = []
    for i in node_ids(a):
        files += [i, f"{i}_secret"]
    return files + [CLIENT_CERT, f"{CLIENT_CERT}_secret",
                    "healthcheck", "healthcheck_secret", "operator"]


# ---- a small YAML writer (block style, the subset these manifests use) ------

PLAIN = re.compile(r"[A-Za-z_/*][A-Za-z0-9_./*=-]*\Z")
YAML11_WORDS = {"y", "n", "yes", "no", "on", "off", "true", "false", "null", "~"}


class Note:
    """A scalar written with a comment after it: key: value  # note"""
    def __init__(self, value, note):
        self.value, self.note = value, note


def scalar(v):
    if isinstance(v, Note):
        return f"{scalar(v.value)}  # {v.note}"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if v is None:
        return "null"
    s = str(v)
    if PLAIN.match(s) and s.lower() not in YAML11_WORDS:
        return s
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def emit(obj, indent=0):
    pad = " " * indent
    out = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            if isinstance(v, dict) and v:
                out.append(f"{pad}{k}:")
                out += emit(v, indent + 2)
            elif isinstance(v, list) and v:
                out.append(f"{pad}{k}:")
                out += emit(v, indent + 2)
            elif isinstance(v, (dict, list)):
                out.append(f"{pad}{k}: {'{}' if isinstance(v, dict) else '[]'}")
            else:
                out.append(f"{pad}{k}: {scalar(v)}")
    elif isinstance(obj, list):
        for item in obj:
            if isinstance(item, (dict, list)) and item:
                sub = emit(item, indent + 2)
                out.append(f"{pad}- {sub[0].lstrip()}")
                out += sub[1:]
            else:
                out.append(f"{pad}- {scalar(item)}")
    return out


def document(comment, obj):
    lines = ["---"] + [("# " + c).rstrip() for c in comment.strip("\n").split("\n")]
    return "\n".join(lines + emit(obj)) + "\n"


# ---- the manifests -----------------------------------------------------------

def labels(a, component=None):
    lab = {"app.kubernetes.io/name": "rlog", "app.kubernetes.io/instance": a.name}
    if component:
        lab["app.kubernetes.io/component"] = component
    return lab


def env(name, value):
    return {"name": name, "value": str(value)}


def key_item(key, path):
    return {"key": key, "path": path}


def role_spec(a):
    """rlogd's arguments, its RLOG_* environment (each rlogd flag reads
    RLOG_<FLAG>; a flag wins over the environment) and the key files it sees
    under /keys: the one place the node's command is made. Every pod runs
    the same template; $(RLOG_ID), its pod name, makes it itself."""
    # Each member's base address: the pod's DNS name, ready or not, in full
    # and with the final dot: one question to the cluster's DNS, which knows
    # the answer. A short name would go through the search domains, out to
    # the upstream resolvers too while a pod has no address (restarting,
    # rescheduled), and a lookup that takes its time holds up the node's
    # sockets (docs/DEPLOY.md, known limits). $(POD_NAMESPACE) is defined
    # before it is used ($(VAR) takes only earlier variables).
    peers = ",".join(
        f"{i}={i}.{a.name}-headless.$(POD_NAMESPACE).svc.{a.cluster_domain}.:{CLIENT}"
        for i in node_ids(a))
    # The Secret holds every node's certificate; one template cannot project
    # each pod's alone, so each pod sees them all and uses its own (its
    # --curve-secret). The public halves, one file per node id under
    # /keys/nodes, bind each id to its own key: a vote or an ACK counts only
    # under the key of the id it claims. The shared client-facing certificate
    # in neither directory (it is no node's key, and no client's). Client keys
    # apart, under /keys/clients.
    keys = []
    for i in node_ids(a):
        keys += [key_item(f"{i}_secret", f"{i}_secret"), key_item(i, f"nodes/{i}")]
    keys += [key_item(f"{CLIENT_CERT}_secret", f"{CLIENT_CERT}_secret"),
             key_item(CLIENT_CERT, CLIENT_CERT),
             key_item("healthcheck_secret", "healthcheck_secret"),
             key_item("healthcheck", "clients/healthcheck"),
             key_item("operator", "clients/operator")]
    return {
        "args": ["node", "--curve-secret", "/keys/$(RLOG_ID)"],
        "env": [{"name": "RLOG_ID", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                {"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
                env("RLOG_PEERS", peers),
                env("RLOG_HEARTBEAT_MS", a.heartbeat_ms),
                env("RLOG_DATA_DIR", "/data/log"),     # on the pod's volume; rlogd creates log/
                env("RLOG_FSYNC", a.fsync),
                env("RLOG_CURVE_ALLOW_NODES", "/keys/nodes"),
                env("RLOG_CURVE_ALLOW_CLIENTS", "/keys/clients"),
                # the client socket's certificate, the same on every pod
                env("RLOG_CURVE_CLIENT_CERT", f"/keys/{CLIENT_CERT}"),
                # logcli's, in the probes and in `kubectl exec POD -- logcli ...`:
                # the healthcheck client key, and the public half of the client
                # socket's certificate as the server's (rlogd's own certificate
                # is its --curve-secret)
                env("RLOG_CURVE_SECRET", "/keys/healthcheck"),
                env("RLOG_SERVER_KEY", f"/keys/{CLIENT_CERT}")],
        "keys": keys,
    }


def probe(period, timeout, failures):
    return {"exec": {"command": PROBE}, "periodSeconds": period,
            "timeoutSeconds": timeout, "failureThreshold": failures}


def statefulset(a):
    spec = role_spec(a)
    ports = [{"name": "client", "containerPort": CLIENT},
             {"name": "pub", "containerPort": PUB},
             {"name": "peer", "containerPort": PEER}]
    container = {
        "name": "rlogd",
        "image": a.image,
        "imagePullPolicy": a.pull_policy,
        "args": spec["args"],
        "env": spec["env"],
        "ports": ports,
        # answers at all: slow starts (a long log to recover) get 5 minutes
        "startupProbe": probe(2, 3, 150),
        # answers now: the client Service lists the pod
        "readinessProbe": probe(5, 3, 2),
        # answered within the last minute, else the kubelet restarts the container
        "livenessProbe": probe(10, 5, 6),
        "resources": {"requests": {"cpu": a.cpu, "memory": a.memory}},
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": [{"name": "data", "mountPath": "/data"},
                         {"name": "keys", "mountPath": "/keys", "readOnly": True}],
    }
    pvc_spec = {"accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": a.storage}}}
    if a.storage_class:
        pvc_spec["storageClassName"] = a.storage_class
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": a.name, "labels": labels(a, "node")},
        "spec": {
            "serviceName": f"{a.name}-headless",
            "replicas": a.nodes,
            # all at once: an election needs a majority up, and a pod that is not
            # ready yet must not hold up the others
            "podManagementPolicy": "Parallel",
            "updateStrategy": {"type": "RollingUpdate"},
            "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Retain"},
            "selector": {"matchLabels": labels(a, "node")},
            "template": {
                "metadata": {"labels": labels(a, "node")},
                "spec": {
                    "automountServiceAccountToken": False,
                    # no RLOG_PORT=tcp://... and the like from the Services
                    # (rlogd reads RLOG_* variables)
                    "enableServiceLinks": False,
                    "terminationGracePeriodSeconds": 15,
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": UID,
                        "runAsGroup": UID,
                        "fsGroup": UID,
                        "fsGroupChangePolicy": "OnRootMismatch",
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "affinity": {"podAntiAffinity": {
                        "preferredDuringSchedulingIgnoredDuringExecution": [{
                            "weight": 100,
                            "podAffinityTerm": {
                                "topologyKey": "kubernetes.io/hostname",
                                "labelSelector": {"matchLabels": labels(a)},
                            },
                        }],
                    }},
                    "containers": [container],
                    "volumes": [{"name": "keys", "secret": {
                        "secretName": f"{a.name}-keys",
                        "defaultMode": Note(0o440, "0440: root and group 10001 (fsGroup) read"),
                        "items": spec["keys"],
                    }}],
                },
            },
            "volumeClaimTemplates": [{
                "metadata": {"name": "data", "labels": labels(a, "node")},
                "spec": pvc_spec,
            }],
        },
    }


def render(a):
    docs = []
    n = a.nodes
    docs.append(f"""\
rlog on Kubernetes: {n} elected nodes (quorum {n // 2 + 1}: the master is whichever
the majority elects), rendered by deploy/k8s/render.py --nodes {n} (do not edit:
render again).
  kubectl apply -n NAMESPACE -f THIS_FILE      (the Secret {a.name}-keys first:
  docs/DEPLOY.md, or render.py --keys DIR)
""")
    if a.keys:
        data = {}
        for k in key_files(a):
            with open(os.path.join(a.keys, k), "rb") as f:
                data[k] = base64.b64encode(f.read()).decode()
        docs.append(document(f"""\
The CURVE certificates (from {a.keys}): {a.name}-0..{n - 1}, each node's own, named
by its id; {CLIENT_CERT} the one every client port presents (clients' server key);
healthcheck the probes' client key, operator a client key for people.
Every pod sees every node's certificate and uses its own (--curve-secret
/keys/$(RLOG_ID)); the peer sockets admit each node under its own id and key
(/keys/nodes/ID); every client port admits healthcheck and operator (/keys/clients).
Holds secret keys: keep the rendered file out of git.
""", {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
      "metadata": {"name": f"{a.name}-keys", "labels": labels(a)}, "data": data}))
    docs.append(document(f"""\
Every pod's DNS name, POD.{a.name}-headless, from the moment it has an address
(publishNotReadyAddresses): the nodes find each other through it (RLOG_PEERS)
before they are ready, a secondary gives it out as the master's client
endpoint, and every node can be reached by name (kubectl port-forward,
logcli -e tcp://POD.{a.name}-headless:5555).
""", {"apiVersion": "v1", "kind": "Service",
      "metadata": {"name": f"{a.name}-headless", "labels": labels(a)},
      "spec": {"clusterIP": "None", "publishNotReadyAddresses": True,
               "selector": labels(a),
               "ports": [{"name": "client", "port": CLIENT, "targetPort": "client"},
                         {"name": "pub", "port": PUB, "targetPort": "pub"},
                         {"name": "peer", "port": PEER, "targetPort": "peer"}]}}))
    docs.append(document(f"""\
The clients' address, {a.name}:5555: every pod whose readiness probe passes. Any
node answers reads and status; an append that reaches a secondary is refused
with NOT_MASTER, which names the master (POD.{a.name}-headless...:5555), and
librlog and logcli send it on there. Under CURVE every pod's client port
presents the same key, {CLIENT_CERT}: a client's one server key for all of them.
""", {"apiVersion": "v1", "kind": "Service",
      "metadata": {"name": a.name, "labels": labels(a)},
      "spec": {"selector": labels(a),
               "ports": [{"name": "client", "port": CLIENT, "targetPort": "client"}]}}))
    docs.append(document(f"""\
The nodes: {n} pods, {a.name}-0..{n - 1}, each its log (and its epoch and vote) on the
volume claim data-{a.name}-ORDINAL. Each runs rlogd node --id $(RLOG_ID) (its pod
name) with the same RLOG_PEERS, every pod's headless DNS name; whichever the
majority elects is master, another is elected when it is gone (1 to 2 s of
silence with the default heartbeat). Scaling this alone is not enough: every
node's RLOG_PEERS and the Secret's certificates must match (render again with
--nodes).
Probes (logcli status, exit 0 when the node answers on its own client port,
whatever its role): startup 5 min for a long log to recover, readiness every
5 s (the client Service), liveness restarts it after a minute without an answer.
""", statefulset(a)))
    docs.append(document(f"""\
Voluntary evictions (drains, upgrades) take one node at a time, so a majority
stays up: evicting the master costs one election, not the quorum.
""", {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
      "metadata": {"name": a.name, "labels": labels(a)},
      "spec": {"maxUnavailable": 1, "selector": {"matchLabels": labels(a)}}}))
    return "".join(("\n".join("# " + l if l else "#" for l in docs[0].rstrip("\n").split("\n")) + "\n",
                    *docs[1:]))


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--nodes", type=int, default=3,
                   help="elected nodes (default 3; odd: 3, 5, 7)")
    p.add_argument("--name", default="rlog", help="name prefix of every object (default rlog)")
    p.add_argument("--image", default=IMAGE_DEFAULT, help=f"image (default {IMAGE_DEFAULT})")
    p.add_argument("--pull-policy", default="IfNotPresent",
                   choices=["IfNotPresent", "Always", "Never"], help="imagePullPolicy")
    p.add_argument("--storage", default="1Gi", help="each node's volume claim (default 1Gi)")
    p.add_argument("--storage-class", default="", help="storageClassName (default: the cluster's)")
    p.add_argument("--cpu", default="100m", help="CPU request per node (default 100m)")
    p.add_argument("--memory", default="128Mi", help="memory request per node (default 128Mi)")
    p.add_argument("--cluster-domain", default="cluster.local",
                   help="the cluster's DNS domain (default cluster.local)")
    p.add_argument("--heartbeat-ms", type=int, default=200, help="RLOG_HEARTBEAT_MS (default 200)")
    p.add_argument("--fsync", default="always", choices=["always", "batch", "never"])
    p.add_argument("--keys", metavar="DIR",
                   help="also render the Secret NAME-keys from DIR (deploy/k8s/keys.sh DIR N NAME makes it)")
    a = p.parse_args(argv)
    if a.nodes < 3:
        p.error("--nodes: at least 3 (a majority must survive the loss of one)")
    if not re.fullmatch(r"[a-z]([-a-z0-9]{0,28}[a-z0-9])?", a.name):
        p.error("--name: lower-case letters, digits and '-', starting with a letter, at most 30")
    if not re.fullmatch(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?", a.cluster_domain):
        p.error("--cluster-domain: a DNS domain such as cluster.local")
    if a.heartbeat_ms < 1:
        p.error("--heartbeat-ms: at least 1")
    if a.keys:
        missing = [k for k in key_files(a) if not os.path.isfile(os.path.join(a.keys, k))]
        if missing:
            p.error(f"--keys {a.keys}: missing {' '.join(missing)} "
                    f"(deploy/k8s/keys.sh LOGCLI {a.keys} {a.nodes} {a.name} makes them)")
    if a.nodes % 2 == 0:
        print(f"render: {a.nodes} nodes: quorum {a.nodes // 2 + 1}, no more failures tolerated "
              f"than with {a.nodes - 1}", file=sys.stderr)
    sys.stdout.write(render(a))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
