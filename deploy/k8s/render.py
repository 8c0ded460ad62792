#!/usr/bin/env python3
"""Render rlog's Kubernetes manifests: one master and N-1 secondaries.

    deploy/k8s/render.py [--nodes N] [--keys DIR] [options] > rlog.yaml
    kubectl apply -n NAMESPACE -f rlog.yaml

deploy/k8s/rlog.yaml is this script's output with the defaults (3 nodes, no
Secret); test/k8s_test.sh checks that it is up to date. docs/DEPLOY.md tells
how to run it, add a node, replace one, back one up.

What it makes (NAME = --name, default rlog):
  Secret NAME-keys           only with --keys DIR (deploy/k8s/keys.sh makes DIR):
                             the CURVE certificates; without it, create the
                             Secret yourself (docs/DEPLOY.md)
  Service NAME-headless      clusterIP None, publishNotReadyAddresses: every
                             pod's DNS name (POD.NAME-headless), ready or not
  Service NAME               the client port (5555) of the master, once ready
  StatefulSet NAME-master    1 pod, NAME-master-0: rlogd master
  StatefulSet NAME-secondary N-1 pods, NAME-secondary-0..: rlogd secondary,
                             each with its pod name as its id
  PodDisruptionBudget NAME   maxUnavailable 1 over all of them

Two StatefulSets, not one: the image has no shell (FROM scratch), and one
StatefulSet has one pod template, so its pods cannot run different commands
by ordinal with today's rlogd (master or secondary is its first argument).
Each role's command is made in one place, role_spec() below; when every node
becomes an elected `rlogd node --peers ...`, that is where it changes, and the
master StatefulSet goes.

Only the standard library: it runs with any python3.
"""
import argparse
import base64
import os
import re
import sys

IMAGE_DEFAULT = "rlog:local"
CLIENT, PUB, PEER = 5555, 5556, 5557
UID = 10001
# Secret keys (= file names under /keys): each role's own certificate, the
# healthcheck's client key, and the public halves the nodes admit: node keys
# under /keys/nodes, one file per secondary named by its node id (its pod
# name), client keys under /keys/clients.
KEY_FILES = ["master", "master_secret", "secondary", "secondary_secret",
             "healthcheck", "healthcheck_secret", "operator"]
# logcli's probe: exit 0 when the node answers on its own client port, with
# the client key and server key of the container's environment.
PROBE = ["/usr/local/bin/logcli", "--retry-ms", "500", "--retries", "2", "status"]


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


def secondary_ids(a):
    """The secondaries' node ids: their pod names (RLOG_ID), which the master
    must know (RLOG_SECONDARIES): it refuses any other id."""
    return [f"{a.name}-secondary-{i}" for i in range(a.nodes - 1)]


def role_spec(a, role):
    """What differs between the roles: rlogd's arguments, its RLOG_* environment
    (each rlogd flag reads RLOG_<FLAG>; a flag wins over the environment), the
    key files it sees under /keys. The one place the node's command is made."""
    common = [
        env("RLOG_CLIENT", f"tcp://*:{CLIENT}"),
        env("RLOG_HEARTBEAT_MS", a.heartbeat_ms),
        env("RLOG_DATA_DIR", "/data/log"),     # on the pod's volume; rlogd creates log/
        env("RLOG_FSYNC", a.fsync),
        env("RLOG_CURVE_ALLOW_CLIENTS", "/keys/clients"),
        # logcli's, in the probes and in `kubectl exec POD -- logcli ...`: the
        # healthcheck client key (rlogd's own certificate is its --curve-secret)
        env("RLOG_CURVE_SECRET", "/keys/healthcheck"),
    ]
    # the public keys a node admits: its clients' (the probes', people's), and
    # on the master the secondaries' too, one file per node id (the pods of a
    # StatefulSet share one template, so the secondaries share one key: each
    # id is bound to it, and no client key can pose as a secondary)
    clients = [key_item("healthcheck", "clients/healthcheck"),
               key_item("operator", "clients/operator")]
    if role == "master":
        ids = secondary_ids(a)
        return {
            "args": ["master", "--curve-secret", "/keys/master"],
            "env": [env("RLOG_REPLICAS", a.nodes - 1),   # quorum: a majority of all nodes
                    env("RLOG_SECONDARIES", ",".join(ids)),
                    env("RLOG_PUB", f"tcp://*:{PUB}"),
                    env("RLOG_PEER", f"tcp://*:{PEER}")] + common
                   + [env("RLOG_CURVE_ALLOW_NODES", "/keys/nodes"),
                      env("RLOG_SERVER_KEY", "/keys/master")],
            "keys": [key_item("master_secret", "master_secret"), key_item("master", "master"),
                     key_item("healthcheck_secret", "healthcheck_secret")]
                    + [key_item("secondary", f"nodes/{i}") for i in ids] + clients,
        }
    # The master pod's DNS name, ready or not, in full and with the final dot:
    # one question to the cluster's DNS, which knows the answer. A short name
    # would go through the search domains, out to the upstream resolvers too
    # while the master pod has no address (restarting, rescheduled), and
    # today's rlogd resolves it on the thread that serves its client port,
    # so a slow "no such name" would stall the secondaries' probes.
    master = f"{a.name}-master-0.{a.name}-headless.$(POD_NAMESPACE).svc.{a.cluster_domain}."
    return {
        "args": ["secondary", "--curve-secret", "/keys/secondary"],
        "env": [{"name": "RLOG_ID", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                {"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
                env("RLOG_MASTER_PUB", f"tcp://{master}:{PUB}"),
                env("RLOG_MASTER_PEER", f"tcp://{master}:{PEER}"),
                env("RLOG_MASTER_KEY", "/keys/master")] + common
               + [env("RLOG_SERVER_KEY", "/keys/secondary")],
        "keys": [key_item("secondary_secret", "secondary_secret"), key_item("secondary", "secondary"),
                 key_item("master", "master"), key_item("healthcheck_secret", "healthcheck_secret")]
                + clients,
    }


def probe(period, timeout, failures):
    return {"exec": {"command": PROBE}, "periodSeconds": period,
            "timeoutSeconds": timeout, "failureThreshold": failures}


def statefulset(a, role, replicas):
    spec = role_spec(a, role)
    ports = [{"name": "client", "containerPort": CLIENT}]
    if role == "master":
        ports += [{"name": "pub", "containerPort": PUB}, {"name": "peer", "containerPort": PEER}]
    container = {
        "name": "rlogd",
        "image": a.image,
        "imagePullPolicy": a.pull_policy,
        "args": spec["args"],
        "env": spec["env"],
        "ports": ports,
        # answers at all: slow starts (a long log to recover) get 5 minutes
        "startupProbe": probe(2, 3, 150),
        # answers now: the Services list the pod (the client Service: the master)
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
        "metadata": {"name": f"{a.name}-{role}", "labels": labels(a, role)},
        "spec": {
            "serviceName": f"{a.name}-headless",
            "replicas": replicas,
            "podManagementPolicy": "Parallel",
            "updateStrategy": {"type": "RollingUpdate"},
            "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Retain"},
            "selector": {"matchLabels": labels(a, role)},
            "template": {
                "metadata": {"labels": labels(a, role)},
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
                "metadata": {"name": "data", "labels": labels(a, role)},
                "spec": pvc_spec,
            }],
        },
    }


def render(a):
    docs = []
    n = a.nodes
    docs.append(f"""\
rlog on Kubernetes: {n} nodes (1 master, {n - 1} secondaries, quorum {n // 2 + 1}),
rendered by deploy/k8s/render.py --nodes {n} (do not edit: render again).
  kubectl apply -n NAMESPACE -f THIS_FILE      (the Secret {a.name}-keys first:
  docs/DEPLOY.md, or render.py --keys DIR)
""")
    if a.keys:
        data = {}
        for k in KEY_FILES:
            with open(os.path.join(a.keys, k), "rb") as f:
                data[k] = base64.b64encode(f.read()).decode()
        docs.append(document(f"""\
The CURVE certificates (from {a.keys}): master and secondary are the nodes'
(all secondaries share one), healthcheck the probes' client key, operator a
client key for people. The master's peer socket admits secondary, under each
secondary's id (/keys/nodes/ID); every client port admits healthcheck and
operator (/keys/clients).
Holds secret keys: keep the rendered file out of git.
""", {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
      "metadata": {"name": f"{a.name}-keys", "labels": labels(a)}, "data": data}))
    docs.append(document(f"""\
Every pod's DNS name, POD.{a.name}-headless, from the moment it has an address
(publishNotReadyAddresses): the secondaries find the master through it before
it is ready, and every node can be reached by name (kubectl port-forward,
logcli -e tcp://POD.{a.name}-headless:5555).
""", {"apiVersion": "v1", "kind": "Service",
      "metadata": {"name": f"{a.name}-headless", "labels": labels(a)},
      "spec": {"clusterIP": "None", "publishNotReadyAddresses": True,
               "selector": labels(a),
               "ports": [{"name": "client", "port": CLIENT, "targetPort": "client"},
                         {"name": "pub", "port": PUB, "targetPort": PUB},
                         {"name": "peer", "port": PEER, "targetPort": PEER}]}}))
    docs.append(document(f"""\
The clients' address, {a.name}:5555: the master, while its readiness probe passes.
Appends go to the master; a secondary answers reads (through the headless name).
""", {"apiVersion": "v1", "kind": "Service",
      "metadata": {"name": a.name, "labels": labels(a)},
      "spec": {"selector": labels(a, "master"),
               "ports": [{"name": "client", "port": CLIENT, "targetPort": "client"}]}}))
    docs.append(document(f"""\
The master: one pod, {a.name}-master-0, its log on the volume claim data-{a.name}-master-0.
rlogd master --curve-secret /keys/master; RLOG_REPLICAS={n - 1} (the secondaries),
RLOG_SECONDARIES their ids (pod names): any other id is refused.
Probes (logcli status, exit 0 when the node answers on its own client port):
startup 5 min for a long log to recover, readiness every 5 s (the Service),
liveness restarts it after a minute without an answer.
""", statefulset(a, "master", 1)))
    docs.append(document(f"""\
The secondaries: {n - 1} pods, {a.name}-secondary-0..{n - 2}, each with its pod name as its
id (RLOG_ID) and its log on data-{a.name}-secondary-ORDINAL; they reach the master
at {a.name}-master-0.{a.name}-headless.NAMESPACE.svc.{a.cluster_domain}. Scaling this alone is not enough: the master's
RLOG_REPLICAS, RLOG_SECONDARIES and node keys must match (render again with --nodes).
""", statefulset(a, "secondary", n - 1)))
    docs.append(document(f"""\
Voluntary evictions (drains, upgrades) take one node at a time, so a majority
stays up and the master keeps accepting appends.
""", {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
      "metadata": {"name": a.name, "labels": labels(a)},
      "spec": {"maxUnavailable": 1, "selector": {"matchLabels": labels(a)}}}))
    return "".join(("\n".join("# " + l if l else "#" for l in docs[0].rstrip("\n").split("\n")) + "\n",
                    *docs[1:]))


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--nodes", type=int, default=3,
                   help="nodes in all: 1 master + N-1 secondaries (default 3; odd: 3, 5, 7)")
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
                   help="also render the Secret NAME-keys from DIR (deploy/k8s/keys.sh makes it)")
    a = p.parse_args(argv)
    if a.nodes < 2:
        p.error("--nodes: at least 2 (a master and a secondary)")
    if not re.fullmatch(r"[a-z]([-a-z0-9]{0,28}[a-z0-9])?", a.name):
        p.error("--name: lower-case letters, digits and '-', starting with a letter, at most 30")
    if not re.fullmatch(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?", a.cluster_domain):
        p.error("--cluster-domain: a DNS domain such as cluster.local")
    if a.heartbeat_ms < 1:
        p.error("--heartbeat-ms: at least 1")
    if a.keys:
        missing = [k for k in KEY_FILES if not os.path.isfile(os.path.join(a.keys, k))]
        if missing:
            p.error(f"--keys {a.keys}: missing {' '.join(missing)} (deploy/k8s/keys.sh makes them)")
    if a.nodes % 2 == 0:
        print(f"render: {a.nodes} nodes: quorum {a.nodes // 2 + 1}, no more failures tolerated "
              f"than with {a.nodes - 1}", file=sys.stderr)
    sys.stdout.write(render(a))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
