#!/usr/bin/env bash
# The Kubernetes manifests (deploy/k8s/), checked offline: no cluster runs here.
#   test/k8s_test.sh          (make k8s-validate makes the venv first)
# Steps, one PASS or FAIL line each:
#   render        render.py makes 3 and 5 elected nodes, each with a Secret of
#                 throwaway keys (deploy/k8s/keys.sh, one certificate per
#                 node and one for every client port), and refuses --nodes 1
#                 and 2
#   up-to-date    deploy/k8s/rlog.yaml is what render.py makes by default
#   schema-VER    kubernetes-validate --strict (unknown fields are errors) of
#                 rlog.yaml and the 3- and 5-node renderings, against the
#                 Kubernetes VER schemas it ships (1.27, the oldest these
#                 manifests claim, and 1.37); with no network (unshare -n)
#                 where this user may cut it off
#   fit           deploy/k8s/check.py on each: the objects fit together
#                 (selectors, counts, every pod an elected node with the
#                 same members at their headless names, probes, security
#                 context, each pod's own key and every key file it reads
#                 projected from the Secret, each id bound to its own key,
#                 one client-facing certificate for every pod and its public
#                 half the probes' server key)
#   negative      broken manifests are rejected, by the schema (a misspelt
#                 field, a word for a number) and by check.py (5 nodes
#                 expected of a 3-node rendering, no publishNotReadyAddresses,
#                 a member missing from RLOG_PEERS, a node id bound to another
#                 node's key, each pod's client port its own key, the probes
#                 expecting the node's own key): the checks can fail
# K8S_VENV: the virtual environment with kubernetes-validate (default
# build/k8s-venv, from deploy/k8s/requirements.txt); LOGCLI: for keygen
# (default build/logcli). Last line "N passed, N failed"; exit 1 on any failure.
set -u
cd "$(dirname "$0")/.." || exit 2
VENV=${K8S_VENV:-build/k8s-venv}
LOGCLI=${LOGCLI:-build/logcli}
VERSIONS="1.27.0 1.37.0"
K8S=deploy/k8s
passed=0 failed=0

TMP=$(mktemp -d "${TMPDIR:-/tmp}/rlog-k8s-test.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
trap 'exit 130' INT TERM

pass() { echo "PASS $1"; passed=$((passed + 1)); }
# fail STEP REASON [FILE]: the step's FAIL line, then FILE's first lines
fail() {
    echo "FAIL $1: $2"
    [ -n "${3:-}" ] && [ -s "$3" ] && sed -n '1,15s/^/    /p' "$3"
    failed=$((failed + 1))
}
summary() { echo "$passed passed, $failed failed"; [ "$failed" -eq 0 ]; exit; }

if [ ! -x "$VENV/bin/kubernetes-validate" ] || [ ! -x "$VENV/bin/python" ]; then
    fail setup "no kubernetes-validate in $VENV: make k8s-venv (python3 -m venv, pip install -r $K8S/requirements.txt)"
    summary
fi
# Offline: in a network namespace of its own where this user may make one.
NONET=
if unshare -n true 2>/dev/null; then NONET="unshare -n"; fi

# ---- render -----------------------------------------------------------------
ok=1
if ! "$K8S/keys.sh" "$LOGCLI" "$TMP/keys" 5 >"$TMP/keys.log" 2>&1; then
    fail render "deploy/k8s/keys.sh failed" "$TMP/keys.log"; ok=0
else
    for n in 3 5; do
        if ! "$K8S/render.py" --nodes "$n" --keys "$TMP/keys" >"$TMP/rlog-$n.yaml" 2>"$TMP/render-$n.err"; then
            fail render "render.py --nodes $n failed" "$TMP/render-$n.err"; ok=0
        fi
    done
    for n in 1 2; do
        if "$K8S/render.py" --nodes $n >/dev/null 2>"$TMP/render-$n.err"; then
            fail render "render.py --nodes $n did not refuse"; ok=0
        fi
    done
fi
[ $ok = 1 ] && pass "render: 3 and 5 elected nodes with a Secret; --nodes 1 and 2 refused"
[ $ok = 1 ] || summary

# ---- up-to-date -------------------------------------------------------------
"$K8S/render.py" >"$TMP/rlog.yaml"
if diff -u "$K8S/rlog.yaml" "$TMP/rlog.yaml" >"$TMP/diff"; then
    pass "up-to-date: deploy/k8s/rlog.yaml is render.py's output"
else
    fail up-to-date "deploy/k8s/rlog.yaml differs from render.py's output: deploy/k8s/render.py > deploy/k8s/rlog.yaml" "$TMP/diff"
fi

# ---- schema -------------------------------------------------------------------
FILES="$K8S/rlog.yaml $TMP/rlog-3.yaml $TMP/rlog-5.yaml"
for v in $VERSIONS; do
    # shellcheck disable=SC2086
    if $NONET "$VENV/bin/kubernetes-validate" --strict --quiet -k "$v" $FILES >"$TMP/schema-$v.log" 2>&1; then
        pass "schema-$v: rlog.yaml, 3 and 5 nodes valid (strict${NONET:+, no network})"
    else
        fail "schema-$v" "kubernetes-validate --strict -k $v" "$TMP/schema-$v.log"
    fi
done

# ---- fit ----------------------------------------------------------------------
ok=1
while read -r n f; do
    if ! $NONET "$VENV/bin/python" "$K8S/check.py" "$n" "$f" >"$TMP/fit.log" 2>&1; then
        fail fit "check.py $n ${f#"$TMP"/}" "$TMP/fit.log"; ok=0
    fi
done <<EOF
3 $K8S/rlog.yaml
3 $TMP/rlog-3.yaml
5 $TMP/rlog-5.yaml
EOF
[ $ok = 1 ] && pass "fit: selectors, counts, members and their addresses, probes, security, each node's own key, one client-facing key"

# ---- negative -------------------------------------------------------------------
ok=1
sed 's/^  maxUnavailable: 1$/  maxUnavailabel: 1/' "$K8S/rlog.yaml" >"$TMP/bad-field.yaml"
sed '0,/^  replicas: 3$/s//  replicas: three/' "$K8S/rlog.yaml" >"$TMP/bad-type.yaml"
sed '/publishNotReadyAddresses/d' "$K8S/rlog.yaml" >"$TMP/bad-headless.yaml"
sed '/name: RLOG_PEERS/{n;s/,rlog-2=[^"]*"/"/}' "$K8S/rlog.yaml" >"$TMP/bad-peers.yaml"
sed '/- key: rlog-0$/{n;s|path: nodes/rlog-0$|path: nodes/rlog-1|};/- key: rlog-1$/{n;s|path: nodes/rlog-1$|path: nodes/rlog-0|}' \
    "$K8S/rlog.yaml" >"$TMP/bad-binding.yaml"
sed '/name: RLOG_CURVE_CLIENT_CERT/{n;s|value: /keys/cluster$|value: "/keys/$(RLOG_ID)"|}' \
    "$K8S/rlog.yaml" >"$TMP/bad-client-cert.yaml"
sed '/name: RLOG_SERVER_KEY/{n;s|value: /keys/cluster$|value: "/keys/nodes/$(RLOG_ID)"|}' \
    "$K8S/rlog.yaml" >"$TMP/bad-probe-key.yaml"
for bad in bad-field bad-type bad-headless bad-peers bad-binding bad-client-cert bad-probe-key; do
    cmp -s "$K8S/rlog.yaml" "$TMP/$bad.yaml" && { fail negative "$bad: the edit did not apply"; ok=0; }
done
for bad in bad-field bad-type; do
    if $NONET "$VENV/bin/kubernetes-validate" --strict --quiet -k 1.37.0 "$TMP/$bad.yaml" >/dev/null 2>&1; then
        fail negative "kubernetes-validate passed $bad.yaml"; ok=0
    fi
done
if "$VENV/bin/python" "$K8S/check.py" 5 "$K8S/rlog.yaml" >/dev/null 2>&1; then
    fail negative "check.py passed a 3-node rendering as 5 nodes"; ok=0
fi
if "$VENV/bin/python" "$K8S/check.py" 3 "$TMP/bad-headless.yaml" >/dev/null 2>&1; then
    fail negative "check.py passed a headless Service without publishNotReadyAddresses"; ok=0
fi
if "$VENV/bin/python" "$K8S/check.py" 3 "$TMP/bad-peers.yaml" >/dev/null 2>&1; then
    fail negative "check.py passed an RLOG_PEERS without rlog-2"; ok=0
fi
if "$VENV/bin/python" "$K8S/check.py" 3 "$TMP/bad-binding.yaml" >/dev/null 2>&1; then
    fail negative "check.py passed rlog-0 and rlog-1 bound to each other's keys"; ok=0
fi
if "$VENV/bin/python" "$K8S/check.py" 3 "$TMP/bad-client-cert.yaml" >/dev/null 2>&1; then
    fail negative "check.py passed each pod's client port presenting its own key"; ok=0
fi
if "$VENV/bin/python" "$K8S/check.py" 3 "$TMP/bad-probe-key.yaml" >/dev/null 2>&1; then
    fail negative "check.py passed probes expecting the node's own key behind a shared client certificate"; ok=0
fi
[ $ok = 1 ] && pass "negative: a misspelt field, a word for a number, wrong counts, no publishNotReadyAddresses, a member missing, ids bound to others' keys, no shared client key, a wrong probe key: all rejected"

summary
