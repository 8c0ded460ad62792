#!/bin/sh
# CURVE certificates for rlog on Kubernetes (deploy/k8s/render.py --keys DIR).
#   usage: deploy/k8s/keys.sh LOGCLI DIR       (make k8s-keys: deploy/k8s/keys/)
# Writes, with `logcli keygen`, those of these that DIR lacks (each NAME is the
# public certificate, NAME_secret the secret one):
#   master        the master's
#   secondary     every secondary's (one Secret, one template: they share it)
#   healthcheck   the probes' client key (and `kubectl exec POD -- logcli ...`)
#   operator      a client key for people (logcli outside the cluster)
# The secret files are mode 0600: only render.py and kubectl read them here;
# in the pods they come from the Secret. Keep DIR out of git (deploy/k8s/keys/
# is ignored). Then, either
#   deploy/k8s/render.py --keys DIR | kubectl apply -n NAMESPACE -f -
# or the Secret alone (what render.py --keys puts in it):
#   kubectl create secret generic rlog-keys -n NAMESPACE \
#     --from-file=DIR/master --from-file=DIR/master_secret \
#     --from-file=DIR/secondary --from-file=DIR/secondary_secret \
#     --from-file=DIR/healthcheck --from-file=DIR/healthcheck_secret \
#     --from-file=DIR/operator
set -eu

[ $# -eq 2 ] || { echo "usage: $0 LOGCLI DIR" >&2; exit 2; }
logcli=$1
dir=$2
[ -x "$logcli" ] || { echo "keys: $logcli missing: run make first" >&2; exit 1; }

umask 077
mkdir -p "$dir"
made=0
for name in master secondary healthcheck operator; do
    if [ -f "$dir/$name" ] && [ -f "$dir/${name}_secret" ]; then
        continue
    fi
    rm -f "$dir/$name" "$dir/${name}_secret"
    "$logcli" keygen "$dir/$name" >/dev/null
    made=$((made + 1))
done
chmod 0644 "$dir/master" "$dir/secondary" "$dir/healthcheck" "$dir/operator"
chmod 0600 "$dir"/*_secret
echo "keys: $dir: $made new certificate(s) of master, secondary, healthcheck, operator (secrets mode 0600)"
echo "keys: the Secret: deploy/k8s/render.py --keys $dir | kubectl apply -n NAMESPACE -f -, or"
echo "  kubectl create secret generic rlog-keys -n NAMESPACE$(for f in master master_secret secondary secondary_secret healthcheck healthcheck_secret operator; do printf ' --from-file=%s' "$dir/$f"; done)"
