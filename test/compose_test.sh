#!/usr/bin/env bash
# Fault scenarios against the Docker Compose topologies: the pinned one
# (compose/docker-compose.yml: master, s1, s2) and the elected one
# (compose/docker-compose.failover.yml: n1, n2, n3, each an `rlogd node`).
#   test/compose_test.sh [SCENARIO...]      (make compose-test runs all)
# Scenarios: self-check partition minority-master crash (pinned),
#            failover failover-partition (elected)
#
# Each scenario runs in a compose project of its own (-p rlogtest<random>) and
# tears it down with `down -v` when it ends, also on failure or Ctrl-C. Every
# wait polls with a deadline. Heartbeat 100 ms: Suspected after 0.5 s of
# silence, Unhealthy after 1.5 s. Prints one line per scenario, PASS NAME or
# FAIL NAME: REASON, then the summary "N passed, N failed" as the last line;
# exits 1 on any failure. Docker not answering: one SKIP line, then
# "0 passed, 0 failed, 1 skipped", exit 0; with CI=true that is a FAIL line,
# then "0 passed, 1 failed", exit 1 (CI has Docker: a missing engine there is
# a broken machine, not a reason to pass).
# Every node keeps its log on its named volume (RLOG_DATA_DIR=/data/log, fsync
# always): `crash` kills a secondary and then the master and starts each again
# on its volume.
# The elected scenarios add a `client` container to the project (an override
# file: logcli, kept running by a status watch, with the three nodes as its
# endpoint list) that streams w=2 appends and outlives any node:
#   failover            docker kill of the elected master under w=2 appends:
#                       another node is elected and the appends resume through
#                       it within a bound (the times are printed); the killed
#                       node, started again on its volume, rejoins as a
#                       secondary; every acknowledged append is on every node
#                       once, at its seq; appends from the host through the
#                       published client ports follow the master
#   failover-partition  the master cut off the network (docker network
#                       disconnect): the other two elect a new master and take
#                       appends; the isolated one acknowledges none (w=2 times
#                       out or is refused, then read-only refuses w=1);
#                       reconnected, it steps down, follows the new master and
#                       lists exactly what it lists (its own unacknowledged
#                       entries gone from every node)
# BUILD: the build directory whose logcli the host-side checks run (build).
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
PINNED_FILE=$ROOT/compose/docker-compose.yml
ELECTED_FILE=$ROOT/compose/docker-compose.failover.yml
MAKE=${MAKE:-make}
BUILD=${BUILD:-build}
case "$BUILD" in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
ALL="self-check partition minority-master crash failover failover-partition"
SCENARIOS=${*:-$ALL}

skip() {
    if [ "${CI:-}" = true ]; then
        echo "FAIL compose: $1"
        echo "0 passed, 1 failed"
        exit 1
    fi
    echo "SKIP compose: $1"
    echo "0 passed, 0 failed, 1 skipped"
    exit 0
}
if ! command -v docker >/dev/null 2>&1 || ! docker info >/dev/null 2>&1; then
    skip "Docker does not answer ('docker info' failed): start the Docker daemon to run these scenarios"
fi
if [ -z "${DOCKER_COMPOSE:-}" ]; then
    if command -v docker-compose >/dev/null 2>&1; then DOCKER_COMPOSE=docker-compose; else DOCKER_COMPOSE="docker compose"; fi
fi
$DOCKER_COMPOSE version >/dev/null 2>&1 ||
    skip "no docker-compose and no 'docker compose' plugin: install one to run these scenarios"

for s in $SCENARIOS; do
    case " $ALL " in *" $s "*) ;; *) echo "usage: $0 [$ALL]" >&2; exit 2 ;; esac
done

LOGDIR=$(mktemp -d "${TMPDIR:-/tmp}/rlog-compose-test.XXXXXX")
PROJECTS=$LOGDIR/projects
: >"$PROJECTS"

# What the scenarios change from the defaults: a fast heartbeat, and the
# master's client port on a free loopback port (127.0.0.1::5555), so that the
# tests neither clash with `make compose-up` nor with each other.
export RLOG_HEARTBEAT_MS=100
export RLOG_PUBLISH=127.0.0.1:
export RLOG_PUBLISH_N1=127.0.0.1: RLOG_PUBLISH_N2=127.0.0.1: RLOG_PUBLISH_N3=127.0.0.1:

# The elected scenarios' client: logcli in a container of the project, on
# the nodes' network, kept running by a status watch of a port nothing
# listens on (one try a minute; the image has no shell and no sleep), to
# docker exec logcli in. Its RLOG_ENDPOINT is every node: appends follow
# the master.
CLIENT_FILE=$LOGDIR/client.yml
cat >"$CLIENT_FILE" <<'YAML'
version: "3.8"
services:
  client:
    image: rlog:local
    entrypoint: ["/usr/local/bin/logcli"]
    command: ["-e", "tcp://127.0.0.1:9", "--retry-ms", "60000", "--retries", "1", "status", "--watch", "--json"]
    environment:
      RLOG_ENDPOINT: tcp://n1:5555,tcp://n2:5555,tcp://n3:5555
    networks: [nodes]
    read_only: true
    cap_drop: [ALL]
    security_opt: ["no-new-privileges:true"]
    stop_signal: SIGTERM
YAML

# A paused container (crash pauses s1) does not stop: unpause before `down`.
unpause_all() {
    local c
    for c in $(docker ps -q --filter "label=com.docker.compose.project=$1" --filter status=paused); do
        docker unpause "$c" >/dev/null
    done
}

# Leftovers of an interrupted run: remove every project this run created.
cleanup_all() {
    local p files
    while read -r p files; do
        [ -n "$p" ] || continue
        unpause_all "$p"
        if [ -n "$(docker ps -aq --filter "label=com.docker.compose.project=$p")" ] ||
           [ -n "$(docker network ls -q --filter "label=com.docker.compose.project=$p")" ] ||
           [ -n "$(docker volume ls -q --filter "label=com.docker.compose.project=$p")" ]; then
            # shellcheck disable=SC2086 # -f FILE ...
            $DOCKER_COMPOSE -p "$p" $files down -v --remove-orphans -t 5 >/dev/null 2>&1
        fi
    done <"$PROJECTS"
}
KEEP=${KEEP_LOGS:-}
trap 'cleanup_all; [ -n "$KEEP" ] || rm -rf "$LOGDIR"' EXIT
trap 'echo "interrupted" >&2; exit 130' INT TERM

# ---- helpers (run inside a scenario's subshell) ---------------------------

now_ms() { date +%s%3N; }

# fail REASON: end the scenario; REASON goes on its FAIL line.
fail() {
    printf '%s\n' "$*" >"$REASON"
    echo "FAIL: $*"
    exit 1
}

# shellcheck disable=SC2086 # FILES: -f FILE ...
dc() { $DOCKER_COMPOSE -p "$PROJECT" $FILES "$@"; }

# step WHAT: a time-stamped line in the scenario's log
step() { local ms=$(($(now_ms) - T0)); printf '[%d.%ds] %s\n' $((ms / 1000)) $((ms % 1000 / 100)) "$*"; }

# Container ids: fixed for a container's life (start/kill keep them).
declare -A CID
refresh_ids() {
    local s
    for s in $SERVICES; do CID[$s]=$(dc ps -q "$s" 2>/dev/null); done
}

# cli SERVICE ARGS...: logcli inside that service's container (docker exec:
# the same as `docker-compose exec -T`, without the start-up cost).
cli() {
    local s=$1; shift
    [ -n "${CID[$s]:-}" ] || fail "no container for $s"
    docker exec "${CID[$s]}" /usr/local/bin/logcli "$@"
}

# wait_until SECONDS WHAT CMD...: poll CMD every 0.2 s until it succeeds;
# fail with "timed out after SECONDS s: WHAT" at the deadline.
wait_until() {
    local secs=$1 what=$2; shift 2
    local end=$(($(now_ms) + secs * 1000))
    until "$@"; do
        [ "$(now_ms)" -lt "$end" ] || fail "timed out after ${secs} s: $what"
        sleep 0.2
    done
}

master_json() { cli master status --json 2>/dev/null; }
mode_is() { master_json | grep -q "\"mode\":\"$1\""; }
# state_of ID: healthy | suspected | unhealthy | "" (not joined), as the master sees it
state_of() { master_json | sed -n "s/.*{\"id\":\"$1\",\"state\":\"\([a-z]*\)\".*/\1/p"; }
state_is() { [ "$(state_of "$1")" = "$2" ]; }
all_healthy() {
    local j; j=$(master_json) || return 1
    case "$j" in *'"mode":"read-write"'*) ;; *) return 1 ;; esac
    local s; for s in "$@"; do
        case "$j" in *"{\"id\":\"$s\",\"state\":\"healthy\""*) ;; *) return 1 ;; esac
    done
}
same_list() { [ "$(cli "$1" list 2>/dev/null)" = "$(cli master list 2>/dev/null)" ]; }
# json_num SERVICE KEY: a number of SERVICE's `status --json` ("" if it does not answer)
json_num() { cli "$1" status --json 2>/dev/null | sed -n "s/.*\"$2\":\([0-9]*\).*/\1/p"; }
# recovered SERVICE: N of the newest "recovered N entries from /data/log" line
# of its rlogd (docker logs keeps the lines of earlier runs of the container)
recovered() { docker logs "${CID[$1]}" 2>&1 | sed -n 's/.* recovered \([0-9]*\) entries from .*/\1/p' | tail -1; }
recovered_lines() { docker logs "${CID[$1]}" 2>&1 | grep -c ' recovered [0-9]* entries from '; }

# append W MSG: append with write concern W through the master, at most 10 s.
append() { cli master append -w "$1" -t 10000 "$2" >/dev/null; }

# The nodes' network (NET, set by up_all: the only network of s1) and a
# container's address on it.
net_of() { docker inspect -f '{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}' "$1" | awk '{print $1}'; }
addr_of() { docker inspect -f "{{with index .NetworkSettings.Networks \"$NET\"}}{{.IPAddress}}{{end}}" "${CID[$1]}"; }

# cut_off SERVICE...: disconnect them from the nodes' network.
declare -A ADDR
cut_off() {
    local s
    for s in "$@"; do
        ADDR[$s]=$(addr_of "$s")
        docker network disconnect "$NET" "${CID[$s]}" || fail "docker network disconnect $NET $s failed"
    done
}
# heal SERVICE...: connect them again, each on the address it had. Docker
# gives the lowest free address, so they are connected in address order. The
# address matters: a secondary whose address changed never reconnects (its TCP
# connections to the master stay ESTABLISHED on the old address), which is an
# rlogd limitation, not the partition under test.
heal() {
    local s
    for s in $(for s in "$@"; do echo "${ADDR[$s]} $s"; done | sort -V | awk '{print $2}'); do
        docker network connect --alias "$s" "$NET" "${CID[$s]}" || fail "docker network connect $NET $s failed"
    done
    for s in "$@"; do
        [ "$(addr_of "$s")" = "${ADDR[$s]}" ] ||
            fail "$s came back on $(addr_of "$s"), not ${ADDR[$s]} (rlogd does not follow an address change)"
    done
}

up_all() {
    step "up $*"
    dc up -d "$@" || fail "docker-compose up -d $* failed"
    refresh_ids
    NET=$(net_of "${CID[s1]}")
    [ -n "$NET" ] || fail "cannot find the nodes' network"
    wait_until 30 "master read-write with ${*:-master s1 s2} healthy" all_healthy $(printf '%s\n' "$@" | grep -v '^master$')
    step "ready"
}

teardown() {
    local rc=$?
    step "teardown (exit $rc)"
    [ -n "${BG:-}" ] && kill $BG 2>/dev/null
    [ -n "${BG2:-}" ] && kill $BG2 2>/dev/null
    unpause_all "$PROJECT"
    if [ $rc -ne 0 ]; then
        echo "---- state at failure"; dc ps
        local s
        for s in $SERVICES; do
            [ "$s" = client ] && continue
            echo "---- status of $s"
            [ -n "${CID[$s]:-}" ] && docker exec "${CID[$s]}" /usr/local/bin/logcli --retry-ms 500 --retries 1 status
        done
        echo "---- logs"; dc logs --no-color --timestamps
    fi
    dc down -v --remove-orphans -t 5
}

# ---- scenarios ------------------------------------------------------------

# Write concern end to end: w=3 waits for a secondary that does not exist yet,
# later appends are not held up by it, and the late s2 gets the whole log.
scenario_self_check() {
    up_all master s1
    dc exec -T master logcli append -w 1 -t 10000 Msg1 || fail "Msg1 w=1 failed"
    dc exec -T master logcli append -w 2 -t 10000 Msg2 || fail "Msg2 w=2 failed"
    dc exec -T master logcli append -w 3 Msg3 </dev/null >"$LOG.msg3" 2>&1 &
    BG=$!
    wait_until 15 "Msg3 stored on the master" eval 'cli master list | grep -qx Msg3'
    sleep 1   # not a synchronisation: Msg3 must still be waiting after 1 s
    kill -0 $BG 2>/dev/null || fail "Msg3 w=3 finished with only 2 nodes up: $(cat "$LOG.msg3")"
    dc exec -T master logcli append -w 1 -t 5000 Msg4 || fail "Msg4 w=1 did not complete while Msg3 waits"
    kill -0 $BG 2>/dev/null || fail "Msg3 w=3 finished before s2 started: $(cat "$LOG.msg3")"
    step "Msg1, Msg2, Msg4 done, Msg3 waiting; starting s2"
    dc up -d --no-deps s2 || fail "docker-compose up -d s2 failed"
    refresh_ids
    wait_until 30 "Msg3 w=3 to complete after s2 joined" eval '! kill -0 $BG 2>/dev/null'
    wait $BG || fail "Msg3 w=3 exited $? after s2 joined: $(cat "$LOG.msg3")"
    BG=
    step "Msg3 done"
    local want got
    want=$(printf 'Msg1\nMsg2\nMsg3\nMsg4')
    got=$(dc exec -T s2 logcli list) || fail "logcli list on s2 failed"
    [ "$got" = "$want" ] || fail "s2 lists '$(echo $got)', want 'Msg1 Msg2 Msg3 Msg4'"
    got=$(cli master list)
    [ "$got" = "$want" ] || fail "master lists '$(echo $got)', want 'Msg1 Msg2 Msg3 Msg4'"
    # compose's stop (SIGTERM, stop_grace_period) is a graceful stop: exit 0
    step "stop"
    dc stop || fail "docker-compose stop failed"
    local s code
    for s in master s1 s2; do
        code=$(docker inspect -f '{{.State.ExitCode}}' "${CID[$s]}")
        [ "$code" = 0 ] || fail "$s exited $code on docker-compose stop, want 0"
    done
}

# s2 cut off the network while w=2 appends go on: the master sees it Suspected,
# then Unhealthy, and keeps accepting; back on the network, s2 catches up.
scenario_partition() {
    up_all master s1 s2
    local i
    for i in 1 2 3; do append 3 "before-$i" || fail "append w=3 before-$i failed"; done
    local stop=$LOG.stop acked=$LOG.acked errs=$LOG.errs
    : >"$acked"; : >"$errs"
    ( i=0
      while [ ! -e "$stop" ]; do
          i=$((i + 1))
          if cli master append -w 2 -t 10000 "during-$i" >/dev/null 2>>"$errs"; then
              echo "during-$i" >>"$acked"
          else
              echo "append w=2 during-$i exited $?" >>"$errs"
          fi
          sleep 0.05   # pacing, not synchronisation
      done ) &
    BG=$!
    step "cutting off s2"
    cut_off s2
    # Record every state the master reports for s2 until it is Unhealthy.
    local seen="" st end=$(($(now_ms) + 20000))
    while :; do
        st=$(state_of s2)
        case " $seen " in *" $st "*) ;; *) seen="$seen $st" ;; esac
        [ "$st" = unhealthy ] && break
        [ "$(now_ms)" -lt "$end" ] || fail "s2 not unhealthy 20 s after the disconnect (states seen:$seen)"
        sleep 0.1
    done
    case " $seen " in *" suspected "*) ;; *) fail "s2 went unhealthy without being reported suspected (states seen:$seen)" ;; esac
    mode_is read-write || fail "master not read-write with s1 healthy and s2 cut off"
    local n0; n0=$(wc -l <"$acked")
    wait_until 10 "an append w=2 acknowledged while s2 is unhealthy" \
        eval '[ "$(wc -l <"$acked")" -gt "$n0" ]'
    step "s2 unhealthy (states seen:$seen); reconnecting"
    heal s2
    wait_until 30 "s2 healthy again after reconnecting" state_is s2 healthy
    touch "$stop"
    wait $BG; BG=
    [ -s "$errs" ] && fail "appends w=2 failed during the partition: $(head -3 "$errs" | tr '\n' ' ')"
    [ -s "$acked" ] || fail "no append w=2 was acknowledged during the partition"
    step "s2 healthy"
    wait_until 20 "s2 to list exactly what the master lists" same_list s2
    local m; m=$(cli master list)
    local n; n=$(grep -cFx -f "$acked" <<<"$m")
    [ "$n" -eq "$(wc -l <"$acked")" ] || fail "the master lists $n of $(wc -l <"$acked") acknowledged appends"
    echo "partition: $(wc -l <"$acked") appends acknowledged during it; states seen:$seen"
}

# Both secondaries cut off: the master alone is below quorum and refuses
# appends as read-only; with them back it accepts appends again.
scenario_minority_master() {
    up_all master s1 s2
    append 3 "before" || fail "append w=3 before the partition failed"
    step "cutting off s1 and s2"
    cut_off s1 s2
    wait_until 15 "master read-only with both secondaries cut off" mode_is read-only
    local out rc
    out=$(cli master append -w 1 -t 5000 refused 2>&1); rc=$?
    [ $rc -eq 3 ] || fail "append on the minority master exited $rc, want 3 (refused): $out"
    grep -q read-only <<<"$out" || fail "append on the minority master: no 'read-only' in: $out"
    cli master list | grep -qx refused && fail "a refused append was stored"
    step "refused as read-only; reconnecting"
    heal s1 s2
    wait_until 30 "master read-write with s1 and s2 healthy again" all_healthy s1 s2
    append 1 "after-w1" || fail "append w=1 after reconnecting failed"
    append 3 "after-w3" || fail "append w=3 after reconnecting failed"
    wait_until 20 "s1 to list what the master lists" same_list s1
    wait_until 20 "s2 to list what the master lists" same_list s2
}

# Kills (SIGKILL) and restarts on the node's volume.
# 1. s1 killed: w=2 appends go on; started again it comes back with its log
#    (rlogd's "recovered N entries" at start, its status head at once), then
#    catches up and holds every acknowledged entry.
# 2. The master killed while w=1 and w=2 appends stream in (from logcli in s2's
#    container, which outlives the master) and while one w=3 append is parked
#    (s1 paused): started again on its volume it recovers its log and dedup
#    table under a new epoch, the secondaries rejoin, the parked append's retry
#    (same request id) is answered with its original seq, and every node lists
#    every acknowledged entry exactly once, at its seq. An append that failed
#    may or may not be there, but at most once.
scenario_crash() {
    up_all master s1 s2
    local i acked=""
    for i in 1 2 3 4 5; do append 3 "c-$i" || fail "append w=3 c-$i failed"; acked="$acked c-$i"; done

    # -- 1. a secondary
    local h0 n0 h1 r1
    h0=$(json_num s1 head)
    [ "$h0" = 5 ] || fail "s1 head $h0 before the kill, want 5"
    n0=$(recovered_lines s1)
    step "killing s1 (head $h0)"
    docker kill "${CID[s1]}" >/dev/null || fail "docker kill s1 failed"
    wait_until 15 "master to see s1 suspected after the kill" eval 'state_is s1 suspected || state_is s1 unhealthy'
    for i in 6 7 8; do append 2 "c-$i" || fail "append w=2 c-$i with s1 down failed"; acked="$acked c-$i"; done
    step "starting s1 on its volume"
    dc start s1 || fail "docker-compose start s1 failed"
    wait_until 15 "s1 to log its recovery" eval '[ "$(recovered_lines s1)" -gt "$n0" ]'
    r1=$(recovered s1)
    wait_until 15 "s1 to answer status after the restart" eval 'h1=$(json_num s1 head); [ -n "$h1" ]'
    step "s1 restarted: recovered $r1 entries from its volume; head $h1 at its first status"
    echo "crash: s1 recovered $r1 entries (head $h0 before the kill), head $h1 at its first status after the restart"
    [ "$r1" -ge "$h0" ] || fail "s1 recovered $r1 entries from its volume, had $h0 before the kill"
    wait_until 30 "s1 healthy again after the restart" state_is s1 healthy
    for i in 9 10; do append 3 "c-$i" || fail "append w=3 c-$i after the restart failed"; acked="$acked c-$i"; done
    wait_until 20 "s1 to list exactly what the master lists" same_list s1
    local l; l=$(cli s1 list)
    for i in $acked; do grep -qx -- "$i" <<<"$l" || fail "acknowledged entry $i missing on s1"; done
    same_list s2 || fail "s2 does not list what the master lists"

    # -- 2. the master
    local e0 e1 m_n0 parked_seq r0 kill_acked
    local stop=$LOG.stop wacked=$LOG.wacked werrs=$LOG.werrs parked=$LOG.parked
    : >"$wacked"; : >"$werrs"
    e0=$(json_num master epoch)
    m_n0=$(recovered_lines master)
    # Appends through s2's container (it outlives the master), with a retry
    # budget (~1 s a try while the master is away) that spans the restart.
    rcli() { docker exec "${CID[s2]}" /usr/local/bin/logcli -e tcp://master:5555 --retry-ms 500 --retries 40 "$@"; }
    step "pausing s1; parking a w=3 append"
    docker pause "${CID[s1]}" >/dev/null || fail "docker pause s1 failed"
    ( rcli append -w 3 parked >"$parked" 2>"$parked.err"; echo $? >"$parked.rc" ) &
    BG2=$!
    wait_until 15 "the parked w=3 append held by s2" eval 'cli s2 list 2>/dev/null | grep -qx parked'
    ( i=0
      while [ ! -e "$stop" ]; do
          i=$((i + 1))
          w=$((i % 2 + 1))
          if seq=$(rcli append -w $w -t 10000 "m-$i" 2>>"$werrs") && [[ "$seq" =~ ^[0-9]+$ ]]; then
              echo "m-$i $seq" >>"$wacked"
          else
              echo "FAILED append w=$w m-$i exited $?" >>"$werrs"
          fi
      done ) &
    BG=$!
    wait_until 20 "5 streamed appends acknowledged before the kill" eval '[ "$(wc -l <"$wacked")" -ge 5 ]'
    step "killing the master (epoch $e0)"
    docker kill "${CID[master]}" >/dev/null || fail "docker kill master failed"
    kill_acked=$(wc -l <"$wacked")
    docker unpause "${CID[s1]}" >/dev/null || fail "docker unpause s1 failed"
    step "starting the master on its volume ($kill_acked streamed appends acknowledged before the kill)"
    dc start master || fail "docker-compose start master failed"
    wait_until 15 "the master to log its recovery" eval '[ "$(recovered_lines master)" -gt "$m_n0" ]'
    r0=$(recovered master)
    wait_until 30 "master read-write with s1 and s2 healthy after its restart" all_healthy s1 s2
    e1=$(json_num master epoch)
    step "master back: recovered $r0 entries, epoch $e0 -> $e1"
    [ -n "$e1" ] && [ "$e1" -gt "$e0" ] || fail "master epoch '$e1' after the restart, want > $e0"
    wait_until 30 "5 more streamed appends acknowledged after the restart" \
        eval '[ "$(wc -l <"$wacked")" -ge $((kill_acked + 5)) ]'
    wait_until 45 "the parked w=3 append to finish" eval '! kill -0 $BG2 2>/dev/null'
    wait $BG2; BG2=
    touch "$stop"
    wait $BG; BG=
    [ "$(cat "$parked.rc")" = 0 ] ||
        fail "the parked w=3 append exited $(cat "$parked.rc") across the master restart: $(cat "$parked.err")"
    parked_seq=$(cat "$parked")
    [[ "$parked_seq" =~ ^[0-9]+$ ]] || fail "the parked w=3 append exited 0 but printed '$parked_seq', not a seq"
    step "streaming stopped; parked append answered seq $parked_seq"

    # Every entry the master held at the kill is still there.
    local last_before; last_before=$(head -n "$kill_acked" "$wacked" | awk '{print $2}' | sort -n | tail -1)
    [ "$r0" -ge "$last_before" ] && [ "$r0" -ge "$parked_seq" ] ||
        fail "master recovered $r0 entries, but seq $last_before was acknowledged and seq $parked_seq parked before the kill"
    wait_until 30 "s1 to list exactly what the master lists" same_list s1
    wait_until 30 "s2 to list exactly what the master lists" same_list s2
    local s j dups
    for s in master s1 s2; do
        j=$(cli "$s" list --json | sed -n 's/^{"seq":\([0-9]*\),"message":"\(.*\)"}$/\1 \2/p')
        dups=$(awk '{print $2}' <<<"$j" | sort | uniq -d)
        [ -z "$dups" ] || fail "$s lists these more than once: $(echo $dups)"
        grep -qx "$parked_seq parked" <<<"$j" || fail "$s does not list the parked append at seq $parked_seq"
        while read -r msg seq; do
            grep -qx "$seq $msg" <<<"$j" || fail "$s does not list acknowledged $msg at seq $seq"
        done <"$wacked"
        for i in $acked; do grep -qx "[0-9]* $i" <<<"$j" || fail "acknowledged entry $i missing on $s"; done
    done
    local nerr; nerr=$(grep -c '^FAILED ' "$werrs")
    local present=0 m
    for m in $(sed -n 's/^FAILED append w=[12] \(m-[0-9]*\) exited .*/\1/p' "$werrs"); do
        cli master list | grep -qx -- "$m" && present=$((present + 1))
    done
    # acknowledged after the kill with a seq the old master had given: a retry
    # answered from the recovered dedup table
    local redone; redone=$(tail -n +$((kill_acked + 1)) "$wacked" | awk -v r="$r0" '$2 <= r' | wc -l)
    echo "crash: master recovered $r0 entries, epoch $e0 -> $e1; $(wc -l <"$wacked") streamed appends acknowledged ($kill_acked before the kill, $redone in flight at it and answered after the restart with their first seq), $nerr failed ($present of them stored, once); parked w=3 append answered seq $parked_seq"
    [ "$nerr" -eq 0 ] || { echo "failed appends:"; cat "$werrs"; }
}

# ---- elected nodes (docker-compose.failover.yml) --------------------------

# ccli ARGS...: logcli in the client container, whose endpoint list is every
# node: an append follows the master
ccli() { cli client "$@"; }
# njson NODE: NODE's own `status --json` ("" and non-zero if it does not answer)
njson() { cli "$1" --retry-ms 500 --retries 1 status --json 2>/dev/null; }
# jstr JSON KEY / jnum JSON KEY: a top-level string / number of a status reply
jstr() { sed -n "s/.*\"$2\":\"\([^\"]*\)\".*/\1/p" <<<"$1" | head -1; }
jnum() { sed -n "s/.*\"$2\":\([0-9]*\).*/\1/p" <<<"$1" | head -1; }
role_of() { sed -n 's/^{"role":"\([a-z]*\)".*/\1/p' <<<"$1"; }

# elected_master NEED [EXCEPT]: the node that says it is master, read-write,
# with at least NEED healthy nodes (itself included); EXCEPT is not asked.
# Prints it; non-zero if there is none.
elected_master() {
    local need=$1 except=${2:-} n j h
    for n in n1 n2 n3; do
        [ "$n" = "$except" ] && continue
        j=$(njson "$n") || continue
        [ "$(role_of "$j")" = master ] || continue
        case "$j" in *'"mode":"read-write"'*) ;; *) continue ;; esac
        h=$(jnum "$j" healthy)
        [ -n "$h" ] && [ "$h" -ge "$need" ] || continue
        echo "$n"
        return 0
    done
    return 1
}

# follows NODE MASTER: NODE is a secondary that follows MASTER
follows() {
    local j; j=$(njson "$1") || return 1
    [ "$(role_of "$j")" = secondary ] && [ "$(jstr "$j" leader)" = "$2" ] &&
        [ "$(jstr "$j" mode)" = following ]
}
same_as() { local a; a=$(cli "$1" list 2>/dev/null) && [ "$a" = "$(cli "$2" list 2>/dev/null)" ]; }

up_elected() {
    step "up n1 n2 n3 client"
    dc up -d n1 n2 n3 client || fail "docker-compose up -d failed"
    refresh_ids
    NET=$(net_of "${CID[n1]}")
    [ -n "$NET" ] || fail "cannot find the nodes' network"
    wait_until 30 "a master elected, read-write with 3 healthy nodes" eval 'MASTER=$(elected_master 3)'
    step "ready: $MASTER is master"
}

# check_logs ACKED MASTER: every node lists what MASTER lists, each entry
# once; every "MSG SEQ ..." line of ACKED is there at SEQ on every node
check_logs() {
    local acked=$1 m=$2 n j dups msg seq
    for n in n1 n2 n3; do
        [ "$n" = "$m" ] || wait_until 30 "$n to list exactly what $m lists" same_as "$n" "$m"
    done
    for n in n1 n2 n3; do
        j=$(cli "$n" list --json | sed -n 's/^{"seq":\([0-9]*\),"message":"\(.*\)"}$/\1 \2/p')
        dups=$(awk '{print $2}' <<<"$j" | sort | uniq -d)
        [ -z "$dups" ] || fail "$n lists these more than once: $(echo $dups)"
        while read -r msg seq _; do
            grep -qx "$seq $msg" <<<"$j" || fail "$n does not list acknowledged $msg at seq $seq"
        done <"$acked"
    done
}

# stream ACKED ERRS STOP PREFIX: w=2 appends through the client's endpoint
# list until STOP exists; each acknowledged one "MSG SEQ SENT_MS DONE_MS" in
# ACKED, each failed one "FAILED MSG ..." in ERRS (its reason before it)
stream() {
    local acked=$1 errs=$2 stop=$3 prefix=$4 i=0 t1 seq
    while [ ! -e "$stop" ]; do
        i=$((i + 1))
        t1=$(now_ms)
        if seq=$(ccli append -w 2 -t 10000 "$prefix-$i" 2>>"$errs") && [[ "$seq" =~ ^[0-9]+$ ]]; then
            echo "$prefix-$i $seq $t1 $(now_ms)" >>"$acked"
        else
            echo "FAILED $prefix-$i exited $? after $(($(now_ms) - t1)) ms" >>"$errs"
        fi
    done
}

# The elected master killed under w=2 appends: another node is elected, the
# appends resume through it; the killed node, started again on its volume,
# rejoins as a secondary; every acknowledged append is on every node once,
# at its seq (a failed one at most once); the published client ports take
# appends from the host and follow the master.
scenario_failover() {
    up_elected
    local old=$MASTER e0 e1 i seq
    e0=$(jnum "$(njson "$old")" epoch)
    local stop=$LOG.stop acked=$LOG.acked errs=$LOG.errs
    : >"$acked"; : >"$errs"
    for i in 1 2 3; do
        seq=$(ccli append -w 3 -t 10000 "before-$i") || fail "append w=3 before-$i failed"
        echo "before-$i $seq" >>"$acked"
    done
    stream "$acked" "$errs" "$stop" f &
    BG=$!
    wait_until 20 "5 w=2 appends acknowledged before the kill" eval '[ "$(wc -l <"$acked")" -ge 8 ]'
    step "killing the master $old (epoch $e0)"
    # the times below count from before `docker kill`, its own latency included
    local t_kill; t_kill=$(now_ms)
    docker kill "${CID[$old]}" >/dev/null || fail "docker kill $old failed"
    local t_killed=$(($(now_ms) - t_kill))
    local n_kill; n_kill=$(($(wc -l <"$acked") - 3))
    wait_until 20 "another node elected master, read-write" eval 'MASTER=$(elected_master 2 "$old")'
    local t_elected=$(($(now_ms) - t_kill))
    e1=$(jnum "$(njson "$MASTER")" epoch)
    step "$MASTER is master (epoch $e1), seen $t_elected ms after the kill"
    [ -n "$e1" ] && [ "$e1" -gt "$e0" ] || fail "new master's epoch '$e1', want > $e0"
    first_after() { awk -v k="$t_kill" '$4 > k { print $4 - k; exit }' "$acked"; }
    wait_until 30 "a w=2 append acknowledged after the kill" eval '[ -n "$(first_after)" ]'
    local t_first; t_first=$(first_after)
    step "first w=2 append acknowledged $t_first ms after the kill"
    wait_until 30 "5 more w=2 appends acknowledged after the kill" \
        eval '[ "$(awk -v k="$t_kill" '"'"'$4 > k'"'"' "$acked" | wc -l)" -ge 5 ]'

    # the killed node, started again on its volume: a secondary of the new master
    step "starting $old again on its volume"
    local t_start; t_start=$(now_ms)
    dc start "$old" || fail "docker-compose start $old failed"
    wait_until 30 "$old to follow $MASTER as a secondary" follows "$old" "$MASTER"
    local t_rejoin=$(($(now_ms) - t_start))
    wait_until 30 "$MASTER read-write with 3 healthy nodes" eval '[ "$(elected_master 3)" = "$MASTER" ]'
    local r; r=$(recovered "$old")
    step "$old rejoined as a secondary of $MASTER in $t_rejoin ms (recovered $r entries from its volume)"
    wait_until 30 "3 more w=2 appends acknowledged with $old back" \
        eval '[ "$(awk -v k="$t_start" '"'"'$4 > k'"'"' "$acked" | wc -l)" -ge 3 ]'
    touch "$stop"
    wait $BG; BG=
    seq=$(ccli append -w 3 -t 10000 "after") || fail "append w=3 after the rejoin failed"
    echo "after $seq" >>"$acked"

    # from the host, through the published client ports, listed n1 n2 n3:
    # a secondary names the master by its name on the nodes' network, which
    # the host cannot resolve; logcli then moves on along its list
    local eps="" n p t_host
    for n in n1 n2 n3; do
        p=$(dc port "$n" 5555 | sed 's/.*://') || fail "no published port for $n"
        eps="$eps${eps:+,}tcp://127.0.0.1:$p"
    done
    t_host=$(now_ms)
    seq=$("$BUILD/logcli" -e "$eps" append -w 2 -t 10000 from-host 2>&1) ||
        fail "append w=2 from the host through $eps failed: $seq"
    t_host=$(($(now_ms) - t_host))
    echo "from-host $seq" >>"$acked"
    step "appended from the host through $eps in $t_host ms"

    check_logs "$acked" "$MASTER"
    local nacked nerr present=0 m
    nacked=$(grep -c '^f-' "$acked")
    nerr=$(grep -c '^FAILED ' "$errs")
    for m in $(sed -n 's/^FAILED \(f-[0-9]*\) exited .*/\1/p' "$errs"); do
        cli "$MASTER" list | grep -qx -- "$m" && present=$((present + 1))
    done
    echo "failover: $old killed (epoch $e0; docker kill took $t_killed ms); $MASTER elected (epoch $e1), seen read-write $t_elected ms after the kill; first w=2 append acknowledged $t_first ms after the kill; $nacked streamed w=2 appends acknowledged ($n_kill before the kill), $nerr failed ($present of them stored, once); $old restarted, a secondary of $MASTER in $t_rejoin ms; from the host through the published ports in $t_host ms"
    [ "$nerr" -eq 0 ] || { echo "failed appends:"; grep -v '^logcli: append: no endpoint' "$errs" | head -20; }
}

# The elected master cut off the network: the other two elect a new master
# and take appends; the isolated one acknowledges none; reconnected, it
# steps down and follows, and what it stored alone is gone from every node.
scenario_failover_partition() {
    up_elected
    local old=$MASTER e0 e1 i out rc seq
    e0=$(jnum "$(njson "$old")" epoch)
    local acked=$LOG.acked; : >"$acked"
    for i in 1 2 3; do
        seq=$(ccli append -w 3 -t 10000 "before-$i") || fail "append w=3 before-$i failed"
        echo "before-$i $seq" >>"$acked"
    done
    step "cutting off the master $old (epoch $e0)"
    local t_cut; t_cut=$(now_ms)
    cut_off "$old"
    # straight away, before it can know: a w=2 append to it (in the
    # background, while the others elect) is not acknowledged
    local w2out=$LOG.w2
    ( cli "$old" append -w 2 -t 3000 minority-w2 >"$w2out" 2>&1; echo $? >"$w2out.rc" ) &
    BG2=$!
    wait_until 20 "one of the other two elected master, read-write" eval 'MASTER=$(elected_master 2 "$old")'
    local t_elected=$(($(now_ms) - t_cut))
    e1=$(jnum "$(njson "$MASTER")" epoch)
    step "$MASTER is master (epoch $e1), seen $t_elected ms after the cut"
    wait_until 30 "the w=2 append to the isolated $old to end" test -s "$w2out.rc"
    wait $BG2; BG2=
    rc=$(cat "$w2out.rc")
    [ "$rc" -ne 0 ] || fail "the isolated master acknowledged a w=2 append (seq $(cat "$w2out"))"
    local w2; w2="exit $rc: $(cat "$w2out")"
    step "w=2 append to the isolated $old: $w2"
    [ -n "$e1" ] && [ "$e1" -gt "$e0" ] || fail "new master's epoch '$e1', want > $e0"
    for i in 1 2 3; do
        seq=$(ccli append -w 2 -t 10000 "majority-$i") || fail "append w=2 majority-$i through the majority failed"
        echo "majority-$i $seq" >>"$acked"
    done
    # The isolated node takes no appends. It may not answer at all: it keeps
    # trying to reach n2 and n3 by name, and in a container with no network
    # every lookup waits for the resolver's timeout, on the thread that also
    # carries its client port. If it answers, it is no read-write master.
    local j iso
    if j=$(njson "$old"); then
        iso="role $(role_of "$j"), mode $(jstr "$j" mode), epoch $(jnum "$j" epoch)"
        [ "$(role_of "$j")" != master ] || [ "$(jstr "$j" mode)" != read-write ] ||
            fail "the isolated $old is still a read-write master ($iso) after the others elected $MASTER"
    else
        iso="no answer to status"
    fi
    step "isolated $old: $iso"
    out=$(cli "$old" append -w 1 -t 3000 minority-w1 2>&1); rc=$?
    [ $rc -ne 0 ] || fail "the isolated $old acknowledged a w=1 append (seq $out) after the others elected $MASTER ($iso)"
    local w1="exit $rc: $out"
    step "w=1 append to the isolated $old: $w1"

    step "reconnecting $old"
    heal "$old"
    local t_heal; t_heal=$(now_ms)
    wait_until 30 "$old to follow a master as a secondary" eval 'MASTER=$(elected_master 3 "$old") && follows "$old" "$MASTER"'
    local t_follow=$(($(now_ms) - t_heal)) e2
    e2=$(jnum "$(njson "$MASTER")" epoch)
    step "$old follows $MASTER (epoch $e2) $t_follow ms after the reconnect"
    seq=$(ccli append -w 3 -t 10000 "after") || fail "append w=3 after the reconnect failed"
    echo "after $seq" >>"$acked"
    check_logs "$acked" "$MASTER"
    local n
    for n in n1 n2 n3; do
        cli "$n" list | grep -qx 'minority-w[12]' && fail "$n lists an append the isolated master took alone"
    done
    echo "---- $old's log from the cut on (steps down, rollback, joins)"
    docker logs "${CID[$old]}" 2>&1 | grep -iE 'rollback|steps down|joined|read-only|unhealthy|diverg|truncat'
    local rb; rb=$(docker logs "${CID[$old]}" 2>&1 | grep -ci 'rollback')
    echo "failover-partition: $old cut off (epoch $e0): w=2 to it $w2; $MASTER elected (epoch $e1) $t_elected ms after the cut; isolated $old: $iso, w=1 to it $w1; reconnected, $old follows $MASTER (epoch $e2) after $t_follow ms, its lone entries gone ($rb log lines mention a rollback)"
}

# ---- runner ---------------------------------------------------------------

if ! $MAKE --no-print-directory compose-images >"$LOGDIR/build.log" 2>&1; then
    KEEP=1
    echo "FAIL build: make compose-images failed (log: $LOGDIR/build.log)"
    echo "0 passed, 1 failed"
    exit 1
fi

passed=0 failed=0
for name in $SCENARIOS; do
    PROJECT=rlogtest$(od -An -N4 -tx4 /dev/urandom | tr -d ' \n')
    case $name in
        failover*) FILES="-f $ELECTED_FILE -f $CLIENT_FILE" SERVICES="n1 n2 n3 client" ;;
        *) FILES="-f $PINNED_FILE" SERVICES="master s1 s2" ;;
    esac
    echo "$PROJECT $FILES" >>"$PROJECTS"
    LOG=$LOGDIR/$name.log
    REASON=$LOGDIR/$name.reason
    t0=$(now_ms)
    (
        BG= BG2=
        trap teardown EXIT
        trap 'exit 130' INT TERM
        T0=$t0
        echo "project $PROJECT"
        "scenario_${name//-/_}"
    ) >"$LOG" 2>&1
    rc=$?
    echo "$name: $(( ($(now_ms) - t0) / 1000 )) s, exit $rc" >>"$LOGDIR/times"
    if [ $rc -eq 0 ]; then
        echo "PASS $name"
        passed=$((passed + 1))
    else
        reason=$(cat "$REASON" 2>/dev/null)
        echo "FAIL $name: ${reason:-exit $rc} (log: $LOG)"
        failed=$((failed + 1))
    fi
done

cat "$LOGDIR/times" >&2
if [ $failed -ne 0 ] || [ -n "$KEEP" ]; then
    KEEP=1
    echo "logs: $LOGDIR" >&2
fi
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
