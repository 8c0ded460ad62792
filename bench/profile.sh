#!/usr/bin/env bash
# bench/profile.sh - where does the time go? perf profiles of a 3-node rlog
# cluster (and the load generator) under one configuration of the matrix.
#
#   bench/profile.sh [MODE [W [PAYLOAD [SECONDS]]]]     (defaults: pipelined 3 64 5)
#   MODE: sequential | clients | pipelined
#
# Needs perf (apt-get install linux-perf) and `make bench-tools`. Writes
# bench/out/profile-MODE-wW-PAYLOAD/{master,s1,s2,load}.txt: flat profiles
# by shared object, by thread (pid:name: rlogd's main and actor threads, libzmq's
# ZMQbg/IO and ZMQbg/Reaper), by thread and symbol (self time), plus the
# caller graph of the top symbols; and top.txt: CPU seconds each process
# used during the run.
set -u -o pipefail
cd "$(dirname "$0")/.."
MODE=${1:-pipelined}
W=${2:-3}
PAYLOAD=${3:-64}
SECS=${4:-5}
B=${BUILD:-build}
command -v perf >/dev/null || {
    echo "profile: perf not installed (apt-get install linux-perf)" >&2
    exit 1
}
OUT=bench/out/profile-$MODE-w$W-$PAYLOAD
mkdir -p "$OUT"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/rlog-profile.XXXXXX")
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null; done
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
port() { # a free port below the ephemeral range
    local p
    while :; do
        p=$((10000 + (RANDOM * 32768 + RANDOM) % 20000))
        [ -n "$(ss -Htan "( sport = :$p or dport = :$p )" 2>/dev/null)" ] || break
    done
    echo "$p"
}
cp "$B/rlogd" "$B/bench/load" "$TMP/"
EP=tcp://127.0.0.1:$(port) PUB=tcp://127.0.0.1:$(port) PEER=tcp://127.0.0.1:$(port)
"$TMP/rlogd" master --replicas 2 --client "$EP" --pub "$PUB" --peer "$PEER" 2>"$OUT/master.log" &
M=$!
PIDS+=("$M")
for s in s1 s2; do
    "$TMP/rlogd" secondary --id $s --master-pub "$PUB" --master-peer "$PEER" \
        --client tcp://127.0.0.1:$(port) 2>"$OUT/$s.log" &
    PIDS+=("$!")
done
S1=${PIDS[1]} S2=${PIDS[2]}
"$TMP/load" ready --endpoint "$EP" --healthy 3 --timeout-ms 10000 || exit 1
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
declare -A T0
for p in $M $S1 $S2; do T0[$p]=$(ticks $p); done
"$TMP/load" run --endpoint "$EP" --mode "$MODE" --w "$W" --payload "$PAYLOAD" \
    --seconds "$((SECS + 2))" --warmup 0.5 >"$OUT/result.csv" &
L=$!
PIDS+=("$L")
sleep 1
PERF=()
for who in master:$M s1:$S1 s2:$S2 load:$L; do
    perf record -q -e cpu-clock -g -p "${who#*:}" -o "$TMP/${who%%:*}.data" -- sleep "$SECS" \
        2>/dev/null &
    PERF+=("$!")
done
wait "${PERF[@]}"
wait "$L"
HZ=$(getconf CLK_TCK)
{
    echo "CPU seconds used during the run (user+sys), load: $(cat "$OUT/result.csv")"
    for who in master:$M s1:$S1 s2:$S2; do
        p=${who#*:}
        echo "${who%%:*} $(awk -v a="${T0[$p]}" -v b="$(ticks "$p")" -v hz="$HZ" 'BEGIN { printf "%.2f", (b - a) / hz }')"
    done
} >"$OUT/top.txt"
for who in master s1 s2 load; do
    {
        echo "--- by shared object"
        perf report -i "$TMP/$who.data" --no-children --sort dso -g none --stdio 2>/dev/null |
            grep -E '^ +[0-9]' | head -12
        echo "--- by thread"
        perf report -i "$TMP/$who.data" --no-children --sort pid -g none --stdio 2>/dev/null |
            grep -E '^ +[0-9]' | head -12
        echo "--- by thread and symbol (self)"
        perf report -i "$TMP/$who.data" --no-children --sort pid,dso,symbol -g none --stdio \
            2>/dev/null | grep -E '^ +[0-9]' | head -60
        echo "--- by symbol (self)"
        perf report -i "$TMP/$who.data" --no-children --sort dso,symbol -g none --stdio \
            2>/dev/null | grep -E '^ +[0-9]' | head -45
        echo "--- callers of the top symbols"
        perf report -i "$TMP/$who.data" --no-children --sort symbol -g caller,0.5,callee,function,percent \
            --percent-limit 3 --stdio 2>/dev/null | grep -v '^$' | head -150
    } >"$OUT/$who.txt"
done
cat "$OUT/top.txt"
echo "profile: wrote $OUT/" >&2
