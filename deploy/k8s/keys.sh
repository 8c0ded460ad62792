#!/bin/sh
# CURVE certificates for rlog on Kubernetes (deploy/k8s/render.py --keys DIR).
#   usage: deploy/k8s/keys.sh LOGCLI DIR [NODES [NAME]]
#          (make k8s-keys: deploy/k8s/keys/, K8S_NODES nodes)
# Writes, with `logcli keygen`, those of these that DIR lacks (each FILE is the
# public certificate, FILE_secret the secret one):
#   NAME-0 .. NAME-(NODES-1)  each elected node's own, named by its id (its
#                 pod name; NAME: render.py's --name, default rlog; NODES
#                 default 3). More nodes later: run it again with the new
#                 count, the existing certificates stay
#   cluster       the one every node's client port presents (rlogd
#                 --curve-client-cert): clients' --server-key for every pod
#   healthcheck   the probes' client key (and `kubectl exec POD -- logcli ...`)
#   operator      a client key for people (logcli outside the cluster)
# The secret files are mode 0600: only render.py and kubectl read them here;
# in the pods they come from the Secret. Keep DIR out of git (deploy/k8s/keys/
# is ignored). Then, either
#   deploy/k8s/render.py --nodes NODES --keys DIR | kubectl apply -n NAMESPACE -f -
# or the Secret alone (what render.py --keys puts in it; the kubectl line is
# printed at the end).
set -eu

if [ $# -lt 2 ] || [ $# -gt 4 ]; then echo "usage: $0 LOGCLI DIR [NODES [NAME]]" >&2; exit 2; fi
logcli=$1
dir=$2
nodes=${3:-3}
name=${4:-rlog}
[ -x "$logcli" ] || { echo "keys: $logcli missing: run make first" >&2; exit 1; }
case $nodes in ''|*[!0-9]*) echo "keys: NODES must be a number, not '$nodes'" >&2; exit 2 ;; esac

ids=$(i=0; while [ "$i" -lt "$nodes" ]; do echo "$name-$i"; i=$((i + 1)); done)
umask 077
mkdir -p "$dir"
made=0
for f in $ids cluster healthcheck operator; do
    if [ -f "$dir/$f" ] && [ -f "$dir/${f}_secret" ]; then
        continue
    fi
    rm -f "$dir/$f" "$dir/${f}_secret"
    "$logcli" keygen "$dir/$f" >/dev/null
    made=$((made + 1))
done
for f in $ids cluster healthcheck operator; do chmod 0644 "$dir/$f"; done
chmod 0600 "$dir"/*_secret
echo "keys: $dir: $made new certificate(s) of $(echo "$ids" | tr '\n' ' ')cluster, healthcheck, operator (secrets mode 0600)"
files=""
for f in $ids; do files="$files $f ${f}_secret"; done
files="$files cluster cluster_secret healthcheck healthcheck_secret operator"
echo "keys: the Secret: deploy/k8s/render.py --nodes $nodes --keys $dir | kubectl apply -n NAMESPACE -f -, or"
echo "  kubectl create secret generic $name-keys -n NAMESPACE$(for f in $files; do printf ' --from-file=%s' "$dir/$f"; done)"
