#!/bin/sh
# rlog on Docker Swarm: the steps behind make swarm-init / swarm-up / swarm-down
# (compose/swarm.mk) and the operator's logcli. Run from anywhere.
#   compose/swarm.sh init               a one-node swarm on this host, for trying it
#                                       out (docker swarm init --advertise-addr
#                                       SWARM_ADVERTISE, default 127.0.0.1), unless
#                                       the host is in one; labels this node for
#                                       every rlog node (rlog.node.master, .s1, .s2)
#   compose/swarm.sh up STACK [SECS]    deploy compose/stack.yml as STACK from the
#                                       local image rlog:local (no registry), then
#                                       wait (SECS, default 90) until every node's
#                                       task runs healthy and the master is
#                                       read-write with every secondary healthy
#   compose/swarm.sh ready STACK [SECS] only the wait
#   compose/swarm.sh down STACK [SECS]  docker stack rm, then wait until this host
#                                       has none of its containers and networks
#                                       left; the volumes (the logs) stay
#   compose/swarm.sh logcli STACK ARGS...
#                                       logcli in a one-off container on the
#                                       stack's attachable network, with the
#                                       operator key: e.g. logcli rlog append -w 3 hi,
#                                       logcli rlog -e tcp://s2:5555 list
# Keys: RLOG_KEYS (default compose/keys, made by compose/keys.sh). The other
# variables stack.yml reads (RLOG_HEARTBEAT_MS, RLOG_FSYNC, RLOG_PUBLISH_PORT)
# are passed on from the environment.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
RLOG_KEYS=${RLOG_KEYS:-$here/keys}
case "$RLOG_KEYS" in /*) ;; *) RLOG_KEYS=$PWD/$RLOG_KEYS ;; esac
export RLOG_KEYS
self=$here/$(basename "$0")
IMAGE=rlog:local
# the rlog nodes, as stack.yml pins them (node.labels.rlog.node.NAME == true)
NODES=$(sed -n 's/.*node\.labels\.rlog\.node\.\([A-Za-z0-9_-]*\) *== *true.*/\1/p' "$here/stack.yml")

die() { echo "swarm: $*" >&2; exit 1; }

swarm_state() { docker info -f '{{.Swarm.LocalNodeState}}' 2>/dev/null; }
is_manager() { [ "$(docker info -f '{{.Swarm.ControlAvailable}}' 2>/dev/null)" = true ]; }

need_manager() {
    [ "$(swarm_state)" = active ] ||
        die "this host is not in a swarm: 'make swarm-init' makes a one-node swarm here (docs/DEPLOY.md: several hosts)"
    is_manager || die "this host is a swarm worker: run this on a manager"
}

# label_holders NODE: the swarm nodes labelled rlog.node.NODE=true
label_holders() {
    docker node ls -q | while read -r id; do
        [ "$(docker node inspect -f "{{index .Spec.Labels \"rlog.node.$1\"}}" "$id")" = true ] &&
            docker node inspect -f '{{.Description.Hostname}}' "$id"
    done
    return 0
}

cmd_init() {
    case "$(swarm_state)" in
        active) echo "swarm: this host is already in a swarm; not creating one" ;;
        inactive)
            docker swarm init --advertise-addr "${SWARM_ADVERTISE:-127.0.0.1}" >/dev/null
            echo "swarm: one-node swarm created (leave it with: docker swarm leave --force)" ;;
        *) die "swarm state '$(swarm_state)': docker info says more" ;;
    esac
    is_manager || die "this host is a swarm worker: label the nodes on a manager"
    id=$(docker info -f '{{.Swarm.NodeID}}')
    for n in $NODES; do
        docker node update --label-add "rlog.node.$n=true" "$id" >/dev/null
    done
    echo "swarm: node $(docker node inspect -f '{{.Description.Hostname}}' "$id") labelled rlog.node.{$(printf '%s' "$NODES" | tr '\n' ,)}=true"
}

# replicas STACK NODE: "1/1" when its task runs (and is healthy: swarm
# reports a task with a healthcheck as running only once it is healthy)
replicas() { docker service ls --filter "label=com.docker.stack.namespace=$1" --format '{{.Name}} {{.Replicas}}' | awk -v n="$1_$2" '$1 == n { print $2 }'; }

# json_num JSON KEY
json_num() { printf '%s\n' "$1" | sed -n "s/.*\"$2\":\([0-9]*\).*/\1/p"; }

# logcli in a one-off container on STACK_nodes, as uid 10001 with the operator key
cmd_logcli() {
    stack=$1; shift
    [ -r "$RLOG_KEYS/operator_secret" ] || [ "$(id -u)" -eq 0 ] ||
        die "$RLOG_KEYS/operator_secret not readable"
    docker run --rm -i --network "${stack}_nodes" --label "rlog.oneoff=$stack" \
        --read-only --cap-drop ALL --security-opt no-new-privileges:true --user 10001:10001 \
        -v "$RLOG_KEYS:/keys:ro" \
        -e RLOG_CURVE_SECRET=/keys/operator -e RLOG_SERVER_KEY=/keys/master \
        -e RLOG_ENDPOINT=tcp://master:5555 \
        --entrypoint /usr/local/bin/logcli "$IMAGE" "$@"
}

cmd_ready() {
    stack=$1 secs=${2:-90}
    end=$(($(date +%s) + secs))
    while :; do
        ok=1
        for n in $NODES; do
            [ "$(replicas "$stack" "$n")" = 1/1 ] || { ok=0; break; }
        done
        if [ $ok = 1 ]; then
            json=$(timeout 20 "$self" logcli "$stack" --retry-ms 500 --retries 2 status --json 2>/dev/null || true)
            case "$json" in
                *'"mode":"read-write"'*)
                    [ "$(json_num "$json" healthy)" = "$(json_num "$json" nodes)" ] && return 0 ;;
            esac
        fi
        if [ "$(date +%s)" -ge "$end" ]; then
            echo "swarm: stack $stack not ready after $secs s (every task running healthy, master read-write, every node healthy):" >&2
            docker stack ps --no-trunc --format '{{.Name}} {{.Node}} {{.DesiredState}} {{.CurrentState}} {{.Error}}' "$stack" >&2 || true
            [ -n "${json:-}" ] && echo "master: $json" >&2
            return 1
        fi
        sleep 1
    done
}

cmd_up() {
    stack=$1 secs=${2:-90}
    need_manager
    for f in master_secret s1_secret s2_secret healthcheck_secret master s1 s2 healthcheck operator; do
        [ -f "$RLOG_KEYS/$f" ] || die "$RLOG_KEYS/$f missing: make compose-keys (compose/keys.sh)"
    done
    docker image inspect "$IMAGE" >/dev/null 2>&1 || die "no image $IMAGE on this host: make compose-images"
    for n in $NODES; do
        [ -n "$(label_holders "$n")" ] ||
            die "no swarm node is labelled rlog.node.$n=true: docker node update --label-add rlog.node.$n=true HOST ('make swarm-init' labels a one-node swarm)"
    done
    cd "$here"
    # no registry: every host runs the rlog:local it has
    docker stack deploy --resolve-image never -c stack.yml "$stack"
    cmd_ready "$stack" "$secs"
    docker stack ps --format 'table {{.Name}}\t{{.Node}}\t{{.CurrentState}}' --filter desired-state=running "$stack"
}

cmd_down() {
    stack=$1 secs=${2:-60}
    docker stack rm "$stack"
    # stack rm returns at once; the tasks stop within their grace period
    end=$(($(date +%s) + secs))
    while [ -n "$(docker ps -aq --filter "label=com.docker.stack.namespace=$stack")$(docker network ls -q --filter "label=com.docker.stack.namespace=$stack")" ]; do
        if [ "$(date +%s)" -ge "$end" ]; then
            echo "swarm: $stack still has containers or networks on this host after $secs s" >&2
            return 1
        fi
        sleep 0.5
    done
    # the stack's (labelled) and those made by hand for it (a restored log)
    vols=$({ docker volume ls -q --filter "label=com.docker.stack.namespace=$stack"
             docker volume ls -q | grep "^${stack}_"; } | sort -u | tr '\n' ' ' | sed 's/ $//')
    if [ -n "$vols" ]; then
        echo "swarm: stack $stack removed; its volumes stay (the logs): $vols"
        echo "swarm: to delete them, on each host: docker volume rm $vols"
    else
        echo "swarm: stack $stack removed"
    fi
}

[ $# -ge 1 ] || { sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }
cmd=$1; shift
case "$cmd" in
    init) cmd_init ;;
    up|ready|down|logcli)
        [ $# -ge 1 ] || die "usage: $0 $cmd STACK ..."
        "cmd_$cmd" "$@" ;;
    *) die "unknown command '$cmd' (init, up, ready, down, logcli)" ;;
esac
