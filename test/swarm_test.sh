#!/usr/bin/env bash
# rlog on Docker Swarm (compose/stack.yml), on this host's Docker engine.
#   test/swarm_test.sh          (make swarm-test)
#
# On a host in no swarm it makes a one-node swarm (docker swarm init
# --advertise-addr 127.0.0.1) and leaves it at the end; a swarm the host is
# already in (as a manager) is used and left alone, but for the labels this
# run added to the local node, which it removes. The stack (rlogtest<random>)
# is deployed by compose/swarm.sh up from the local image rlog:local
# (make compose-images; --resolve-image never, no registry), with keys of its
# own (compose/keys.sh into a temporary directory) and the master's client
# port published on a free port. Steps, one PASS or FAIL line each:
#   deploy      every task healthy, the master read-write; its published port
#               answers the operator key from the host, and a one-off
#               container on the attachable network answers too
#   self-check  s2 scaled to 0; Msg1 w=1 and Msg2 w=2 acknowledged; Msg3 w=3
#               parked (the master counts it waiting) while Msg4 w=1 returns
#               at once; s2 scaled back to 1: Msg3 completes, s2 lists
#               Msg1..Msg4 in order
#   task-kill   docker kill of s1's task container: the swarm starts a new
#               task on the same volume (it recovers its log), which catches
#               up with what was appended meanwhile: s1 lists what the master lists
#   master-away the master scaled to 0: for longer than their healthchecks'
#               window the secondaries answer (mode disconnected), stay healthy
#               and keep their tasks; scaled back to 1, the master's new task
#               recovers its log from its volume under a new epoch, the
#               secondaries find it at its new address, a w=3 append completes
#   teardown    docker stack rm; none of the stack's containers, networks,
#               secrets or volumes left (and the swarm left if this run made it)
# A failed step ends the run (later steps are not run). Every wait polls with
# a deadline, every docker command is bounded by `timeout`; everything is
# removed on exit, also on failure or Ctrl-C. Last line: "N passed, N failed";
# exit 1 on any failure.
# No Docker engine: a SKIP line and "0 passed, 0 failed, 1 skipped", exit 0;
# with CI=true that is a FAIL ("0 passed, 1 failed", exit 1): CI has Docker.
# KEEP_LOGS=1 keeps the run's log directory.
# (shellcheck: the functions run from the EXIT trap and from wait_until are reachable)
# shellcheck disable=SC2317
set -u
cd "$(dirname "$0")/.." || exit 2
MAKE=${MAKE:-make}
HB_MS=100                # heartbeat: Suspected after 0.5 s of silence
KEEP=${KEEP_LOGS:-}

unusable() {
    if [ "${CI:-}" = true ]; then
        echo "FAIL swarm: $1"
        echo "0 passed, 1 failed"
        exit 1
    fi
    echo "SKIP swarm: $1"
    echo "0 passed, 0 failed, 1 skipped"
    exit 0
}
if ! command -v docker >/dev/null 2>&1 || ! timeout 20 docker info >/dev/null 2>&1; then
    unusable "Docker does not answer ('docker info' failed): start the Docker daemon to run this test"
fi
STATE=$(timeout 20 docker info -f '{{.Swarm.LocalNodeState}}')
case "$STATE" in
    inactive) ;;
    active)
        [ "$(timeout 20 docker info -f '{{.Swarm.ControlAvailable}}')" = true ] ||
            unusable "this host is a swarm worker: run the test on a manager, or on a host in no swarm" ;;
    *) unusable "this host's swarm state is '$STATE' (docker info): not usable" ;;
esac

LOGDIR=$(mktemp -d "${TMPDIR:-/tmp}/rlog-swarm-test.XXXXXX")
LOG=$LOGDIR/run.log
STACK=rlogtest$(od -An -N4 -tx4 /dev/urandom | tr -d ' \n')
NODES="master s1 s2"
MADE_SWARM=
GWBRIDGE_BEFORE=
ADDED_LABELS=
SELF=
BG=
passed=0 failed=0

now_ms() { date +%s%3N; }
T0=$(now_ms)
# log WHAT: a time-stamped line in the run's log
log() { local ms=$(($(now_ms) - T0)); printf '[%d.%ds] %s\n' $((ms / 1000)) $((ms % 1000 / 100)) "$*" >>"$LOG"; }
# d ARGS...: docker, at most 60 s, its output also in the log
d() { timeout 60 docker "$@"; }

# ---- teardown (EXIT trap): remove all this run made ------------------------
teardown() {
    local rc=$? end left
    [ -n "$BG" ] && kill "$BG" 2>/dev/null
    log "teardown (exit $rc)"
    if [ -n "${DEPLOYED:-}" ]; then
        if [ "$rc" -ne 0 ] || [ "$failed" -ne 0 ]; then
            {   echo "---- state at failure"
                d stack ps --no-trunc "$STACK"
                for s in $NODES; do
                    echo "---- logs of ${STACK}_$s"
                    d service logs --timestamps --raw "${STACK}_$s" 2>&1 | tail -50
                done
            } >>"$LOG" 2>&1
        fi
        d stack rm "$STACK" >>"$LOG" 2>&1
        end=$(($(now_ms) + 60000))
        while left=$(stack_leftovers) && [ -n "$left" ] && [ "$(now_ms)" -lt "$end" ]; do sleep 0.5; done
        # one-off logcli containers (--rm) and the stack's volumes
        d ps -aq --filter "label=rlog.oneoff=$STACK" | xargs -r timeout 60 docker rm -f >>"$LOG" 2>&1
        d volume ls -q --filter "label=com.docker.stack.namespace=$STACK" |
            xargs -r timeout 60 docker volume rm >>"$LOG" 2>&1
        left=$(stack_leftovers; d volume ls -q --filter "label=com.docker.stack.namespace=$STACK")
        if [ -n "$left" ]; then
            echo "FAIL teardown: left behind: $(echo "$left" | tr '\n' ' ')(log: $LOG)"
            failed=$((failed + 1)); KEEP=1
        elif [ "$failed" -eq 0 ] && [ "$rc" -eq 0 ]; then
            echo "PASS teardown"
            passed=$((passed + 1))
        fi
    fi
    if [ -n "$ADDED_LABELS" ] && [ -z "$MADE_SWARM" ]; then
        for l in $ADDED_LABELS; do d node update --label-rm "$l" "$SELF" >>"$LOG" 2>&1; done
    fi
    if [ -n "$MADE_SWARM" ]; then
        log "leaving the swarm this run made"
        d swarm leave --force >>"$LOG" 2>&1
        # created with the swarm's first task; unused once the swarm is left
        [ -z "$GWBRIDGE_BEFORE" ] && d network rm docker_gwbridge >>"$LOG" 2>&1
        if [ "$(d info -f '{{.Swarm.LocalNodeState}}')" != inactive ]; then
            echo "FAIL teardown: docker swarm leave did not leave the swarm"
            failed=$((failed + 1)); KEEP=1
        fi
    fi
    if [ "$failed" -ne 0 ] || [ "$rc" -ne 0 ] || [ -n "$KEEP" ]; then
        echo "log: $LOG" >&2
    else
        rm -rf "$LOGDIR"
    fi
    [ "$rc" -eq 0 ] || [ "$failed" -ne 0 ] || { echo "FAIL interrupted"; failed=$((failed + 1)); }
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ] || exit 1
    exit "$rc"
}
stack_leftovers() {
    d ps -aq --filter "label=com.docker.stack.namespace=$STACK"
    d network ls -q --filter "label=com.docker.stack.namespace=$STACK"
    d secret ls -q --filter "label=com.docker.stack.namespace=$STACK"
    d service ls -q --filter "label=com.docker.stack.namespace=$STACK"
}
trap teardown EXIT
trap 'echo "interrupted" >&2; exit 130' INT TERM

# ---- helpers ---------------------------------------------------------------

# fail STEP REASON: the step's FAIL line, then the end of the run
fail() {
    echo "FAIL $STEP: $* (log: $LOG)"
    log "FAIL $STEP: $*"
    failed=$((failed + 1))
    exit 1
}
pass() { echo "PASS $STEP${1:+: $1}"; log "PASS $STEP"; passed=$((passed + 1)); }

# wait_until SECONDS WHAT CMD...: poll CMD every 0.2 s until it succeeds
wait_until() {
    local secs=$1 what=$2; shift 2
    local end=$(($(now_ms) + secs * 1000))
    until "$@"; do
        [ "$(now_ms)" -lt "$end" ] || fail "timed out after ${secs} s: $what"
        sleep 0.2
    done
}

# task SERVICE: the running container of that service's task ("" if none)
task() { d ps -q --filter "label=com.docker.swarm.service.name=${STACK}_$1" --filter status=running | head -1; }
# cli SERVICE ARGS...: logcli in that service's running task (its keys and
# RLOG_* environment: the healthcheck's client key, the node's own server key)
cli() {
    local s=$1 c; shift
    c=$(task "$s")
    [ -n "$c" ] || { echo "no running task for $s" >&2; return 5; }
    timeout 60 docker exec "$c" /usr/local/bin/logcli "$@"
}
master_json() { cli master --retry-ms 500 --retries 2 status --json 2>/dev/null; }
json_num() { sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p"; }
# state_of ID: healthy | suspected | unhealthy | "" as the master sees it
state_of() { master_json | sed -n "s/.*{\"id\":\"$1\",\"state\":\"\([a-z]*\)\".*/\1/p"; }
state_is() { [ "$(state_of "$1")" = "$2" ]; }
waiting_is() { [ "$(master_json | json_num waiting)" = "$1" ]; }
same_list() { local a; a=$(cli "$1" list 2>/dev/null) && [ "$a" = "$(cli master list 2>/dev/null)" ]; }
list_is() { [ "$(cli "$1" list 2>/dev/null)" = "$2" ]; }
no_task() { [ -z "$(task "$1")" ]; }
# scale SERVICE N: docker service scale, not waiting (the caller polls for
# what it needs: the task gone, or the write concern met)
scale() { timeout 60 docker service scale --detach=true "${STACK}_$1=$2" >>"$LOG" 2>&1; }
# a port nothing listens on, for the master's published client port
free_port() {
    local p _
    for _ in $(seq 1 50); do
        p=$((20000 + $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 20000))
        (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return 0; }
    done
    return 1
}

# ---- set-up: image, keys, swarm, labels ------------------------------------

STEP=deploy
log "stack $STACK"
if ! timeout 600 "$MAKE" --no-print-directory compose-images >"$LOGDIR/build.log" 2>&1; then
    fail "make compose-images failed (log: $LOGDIR/build.log)"
fi
compose/keys.sh build/logcli "$LOGDIR/keys" >>"$LOG" 2>&1 || fail "compose/keys.sh failed"
d network inspect docker_gwbridge >/dev/null 2>&1 && GWBRIDGE_BEFORE=1
if [ "$STATE" = inactive ]; then
    log "docker swarm init --advertise-addr 127.0.0.1"
    d swarm init --advertise-addr 127.0.0.1 >>"$LOG" 2>&1 || fail "docker swarm init failed"
    MADE_SWARM=1
fi
SELF=$(d info -f '{{.Swarm.NodeID}}')
# In a swarm of several hosts, a label on another node could place a task
# there, out of this test's reach (docker exec is local).
for id in $(d node ls -q); do
    [ "$id" = "$SELF" ] && continue
    for s in $NODES; do
        [ -z "$(d node inspect -f "{{index .Spec.Labels \"rlog.node.$s\"}}" "$id")" ] ||
            fail "swarm node $(d node inspect -f '{{.Description.Hostname}}' "$id") is labelled rlog.node.$s: the test's tasks could run there; run it on a swarm of its own"
    done
done
for s in $NODES; do
    if [ "$(d node inspect -f "{{index .Spec.Labels \"rlog.node.$s\"}}" "$SELF")" != true ]; then
        d node update --label-add "rlog.node.$s=true" "$SELF" >>"$LOG" 2>&1 || fail "docker node update --label-add rlog.node.$s failed"
        ADDED_LABELS="$ADDED_LABELS rlog.node.$s"
    fi
done
PORT=$(free_port) || fail "no free port for the master's client port"
export RLOG_KEYS=$LOGDIR/keys RLOG_PUBLISH_PORT=$PORT RLOG_HEARTBEAT_MS=$HB_MS

# ---- deploy ------------------------------------------------------------------

log "deploying (master's client port published on $PORT)"
DEPLOYED=1
timeout 150 compose/swarm.sh up "$STACK" 120 >>"$LOG" 2>&1 ||
    fail "compose/swarm.sh up: stack not ready in 120 s"
# from the host, through the published port, with the operator key
out=$(timeout 30 build/logcli --curve-secret "$RLOG_KEYS/operator" --server-key "$RLOG_KEYS/master" \
      -e "tcp://127.0.0.1:$PORT" --retry-ms 1000 --retries 3 status --json 2>&1) ||
    fail "the master's published port $PORT does not answer the operator key: $out"
case "$out" in *'"role":"master"'*) ;; *) fail "the published port answers, but not as the master: $out" ;; esac
# without a key: no answer (CURVE)
if timeout 30 build/logcli -e "tcp://127.0.0.1:$PORT" --retry-ms 300 --retries 1 status >/dev/null 2>&1; then
    fail "the master answered a client without a key"
fi
# a one-off container on the attachable network, reaching s2 by name
out=$(timeout 60 compose/swarm.sh logcli "$STACK" -e tcp://s2:5555 --server-key /keys/s2 status --json 2>&1) ||
    fail "logcli in a one-off container on ${STACK}_nodes did not reach s2: $out"
case "$out" in *'"role":"secondary"'*) ;; *) fail "s2 answered the one-off container, but not as a secondary: $out" ;; esac
for s in $NODES; do
    [ -n "$(task "$s")" ] || fail "no running task for $s"
    [ "$(d inspect -f '{{.HostConfig.ReadonlyRootfs}} {{.Config.User}}' "$(task "$s")")" = "true 10001:10001" ] ||
        fail "$s does not run as 10001 on a read-only root file system"
done
pass "3 tasks healthy, master read-write, published port $PORT and the attachable network answer"

# ---- self-check ------------------------------------------------------------

STEP=self-check
log "scaling s2 to 0"
scale s2 0 || fail "docker service scale s2=0 failed"
wait_until 30 "s2's task gone" no_task s2
cli master append -w 1 -t 10000 Msg1 >>"$LOG" 2>&1 || fail "Msg1 w=1 failed"
cli master append -w 2 -t 10000 Msg2 >>"$LOG" 2>&1 || fail "Msg2 w=2 failed"
# Msg3 waits for s2 as long as it takes (-t 0), up to the 120 s of timeout
( timeout 120 docker exec "$(task master)" /usr/local/bin/logcli append -w 3 Msg3 >"$LOGDIR/msg3" 2>&1
  echo $? >"$LOGDIR/msg3.rc" ) &
BG=$!
wait_until 15 "Msg3 parked on the master (status: waiting 1)" waiting_is 1
t=$(now_ms)
cli master append -w 1 -t 5000 Msg4 >>"$LOG" 2>&1 || fail "Msg4 w=1 did not complete while Msg3 waits"
t=$(($(now_ms) - t))
[ ! -e "$LOGDIR/msg3.rc" ] || fail "Msg3 w=3 finished with s2 scaled to 0: $(cat "$LOGDIR/msg3")"
waiting_is 1 || fail "Msg3 no longer waiting on the master after Msg4"
log "Msg1, Msg2, Msg4 ($t ms) done, Msg3 waiting; scaling s2 to 1"
scale s2 1 || fail "docker service scale s2=1 failed"
wait_until 60 "Msg3 w=3 to complete after s2 came back" test -e "$LOGDIR/msg3.rc"
BG=
[ "$(cat "$LOGDIR/msg3.rc")" = 0 ] || fail "Msg3 w=3 exited $(cat "$LOGDIR/msg3.rc"): $(cat "$LOGDIR/msg3")"
[ "$(cat "$LOGDIR/msg3")" = 3 ] || fail "Msg3 answered seq '$(cat "$LOGDIR/msg3")', want 3"
want=$(printf 'Msg1\nMsg2\nMsg3\nMsg4')
wait_until 20 "s2 to list Msg1..Msg4 in order" list_is s2 "$want"
list_is master "$want" || fail "the master lists '$(cli master list | tr '\n' ' ')', want Msg1..Msg4"
pass "Msg4 w=1 in $t ms while Msg3 w=3 waited; s2 back from 0 lists Msg1..Msg4"

# ---- task-kill ---------------------------------------------------------------

STEP=task-kill
wait_until 30 "s1 and s2 healthy on the master" eval 'state_is s1 healthy && state_is s2 healthy'
old=$(task s1)
h0=$(cli s1 status --json | json_num head)
[ "$h0" = 4 ] || fail "s1 head '$h0' before the kill, want 4"
log "docker kill s1's task $old"
d kill "$old" >>"$LOG" 2>&1 || fail "docker kill of s1's task failed"
wait_until 15 "the master to see s1 gone" eval '! state_is s1 healthy'
for m in Msg5 Msg6; do
    cli master append -w 2 -t 10000 "$m" >>"$LOG" 2>&1 || fail "$m w=2 with s1 killed failed"
done
new=
find_new() { new=$(task s1); [ -n "$new" ] && [ "$new" != "$old" ]; }
wait_until 60 "the swarm to start a new task for s1" find_new
recovered() { d logs "$new" 2>&1 | sed -n 's/.* recovered \([0-9]*\) entries from .*/\1/p' | tail -1; }
has_recovered() { [ -n "$(recovered)" ]; }
wait_until 30 "the new s1 task to recover its log" has_recovered
r=$(recovered)
[ "$r" -ge "$h0" ] || fail "the new s1 task recovered $r entries from its volume, the killed one had $h0"
wait_until 30 "s1 healthy again on the master" state_is s1 healthy
cli master append -w 3 -t 10000 Msg7 >>"$LOG" 2>&1 || fail "Msg7 w=3 after s1's restart failed"
wait_until 30 "s1 to list exactly what the master lists" same_list s1
same_list s2 || fail "s2 does not list what the master lists"
n=$(cli master list | wc -l)
[ "$n" = 7 ] || fail "the master lists $n entries, want 7"
pass "new task recovered $r entries from its volume, caught up to all $n"

# ---- master-away ---------------------------------------------------------------

STEP=master-away
e0=$(master_json | json_num epoch)
s1c=$(task s1) s2c=$(task s2)
log "scaling the master to 0 (epoch $e0)"
scale master 0 || fail "docker service scale master=0 failed"
wait_until 30 "the master's task gone" no_task master
mode_is() { cli "$1" --retry-ms 500 --retries 2 status --json 2>/dev/null | grep -q "\"mode\":\"$2\""; }
wait_until 15 "s1 and s2 to report the master away (mode disconnected)" \
    eval 'mode_is s1 disconnected && mode_is s2 disconnected'
# For longer than their healthchecks' window (5 failures 2 s apart): every
# answer "disconnected", every healthcheck passing, no task replaced. An
# observation window, not a wait for something to happen.
end=$(($(now_ms) + 14000))
while [ "$(now_ms)" -lt "$end" ]; do
    for s in s1 s2; do
        mode_is "$s" disconnected || fail "$s did not answer status (mode disconnected) with the master away"
    done
    { [ "$(task s1)" = "$s1c" ] && [ "$(task s2)" = "$s2c" ]; } || fail "a secondary's task was replaced with the master away"
    for c in "$s1c" "$s2c"; do
        [ "$(d inspect -f '{{.State.Health.Status}}' "$c")" = healthy ] || fail "a secondary's healthcheck failed with the master away"
    done
    sleep 0.5
done
log "scaling the master to 1"
scale master 1 || fail "docker service scale master=1 failed"
wait_until 60 "the master back, read-write, s1 and s2 healthy" \
    eval 'state_is s1 healthy && state_is s2 healthy && master_json | grep -q "\"mode\":\"read-write\""'
e1=$(master_json | json_num epoch)
{ [ -n "$e1" ] && [ "$e1" -gt "$e0" ]; } || fail "master epoch '$e1' after its new task, want > $e0"
r=$(d logs "$(task master)" 2>&1 | sed -n 's/.* recovered \([0-9]*\) entries from .*/\1/p' | tail -1)
[ "$r" = 7 ] || fail "the master's new task recovered '$r' entries from its volume, want 7"
cli master append -w 3 -t 10000 Msg8 >>"$LOG" 2>&1 || fail "Msg8 w=3 after the master's return failed"
wait_until 30 "s1 to list exactly what the master lists" same_list s1
wait_until 30 "s2 to list exactly what the master lists" same_list s2
pass "secondaries answered and stayed healthy 14 s without a master; its new task recovered $r entries, epoch $e0 -> $e1"

# ---- teardown: the EXIT trap (PASS teardown, summary) -------------------------
exit 0
