#!/usr/bin/env bash
# bench/instructions.sh - instructions per append at the master and at a
# secondary (issue 12 item 4), counted by valgrind's callgrind: this VM's
# perf has no hardware counters (`perf stat -e instructions true` says
# "<not supported>").
#
#   bench/instructions.sh [--tree DIR] [--label NAME] [--pipelined N] [--sequential N]
#
# A master (--replicas 2) and two secondaries in memory on 127.0.0.1; the
# master and s1 run under callgrind (every thread counted), s2 natively.
# Fixed workloads of 64 B appends, w=3, each on a fresh cluster:
#   pipelined:  N appends (default 200,000) through one rlog_pipeline,
#               window 1000 (`load fill`; batched with the pipeline's defaults);
#   pipelined, batches of 1: the same with `--batch 1` (every append in its
#               own APPEND_BATCH frame: what the batching alone buys; only
#               where the pipeline has batch settings), window 500: with
#               1000 single-append batches in flight, w=3 replies come in
#               bursts of up to 1000 frames to one connection and the
#               master's client ROUTER (send HWM 1000) drops some of them,
#               which stalls `load fill` (seen at 6fc76e0);
#   sequential: N appends (default 20,000) one at a time (`load run --mode
#               sequential --count N`).
# The counters are zeroed (callgrind_control -z) once the cluster is
# healthy, dumped (-d) when the workload ends, then zeroed and dumped again
# around an idle pause as long as the workload took: the idle count
# (heartbeats, timers) is subtracted, and the rest divided by N.
#
# --tree DIR measures another checkout (e.g. a git worktree of the commit
# before the redesign, built with `make all bench-tools`): its rlogd, and
# this bench/load.c built against its include/ and librlog.a (with
# -DLOAD_V1_API when its rlog.h has no batch settings). Default: this tree,
# $BUILD (build/) and $BUILD/bench/load.
# Writes bench/out/instructions-LABEL.txt (and prints it); logs, the raw
# counts and the workloads' callgrind dumps (for callgrind_annotate) in
# bench/out/instructions-LABEL/.
set -u -o pipefail
cd "$(dirname "$0")/.."
TREE=
V1=
LABEL=
NPIPE=200000
NSEQ=20000
while [ $# -gt 0 ]; do
    case "$1" in
    --tree) TREE=$2 ;;
    --label) LABEL=$2 ;;
    --pipelined) NPIPE=$2 ;;
    --sequential) NSEQ=$2 ;;
    *)
        echo "usage: bench/instructions.sh [--tree DIR] [--label NAME] [--pipelined N] [--sequential N]" >&2
        exit 2
        ;;
    esac
    shift 2 || exit 2
done
for tool in valgrind callgrind_control; do
    command -v $tool >/dev/null || {
        echo "instructions: $tool not installed (apt-get install valgrind)" >&2
        exit 1
    }
done
TMP=$(mktemp -d "${TMPDIR:-/tmp}/rlog-instr.XXXXXX") || exit 1
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null; done
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The binaries, copied (a rebuild meanwhile must not change them).
if [ -n "$TREE" ]; then
    LABEL=${LABEL:-$(basename "$TREE")}
    [ -x "$TREE/build/rlogd" ] && [ -f "$TREE/build/librlog.a" ] || {
        echo "instructions: build $TREE first (make all bench-tools)" >&2
        exit 1
    }
    cp "$TREE/build/rlogd" "$TMP/rlogd" || exit 1
    grep -q rlog_pipeline_set_batch "$TREE/include/rlog.h" || V1=-DLOAD_V1_API
    # shellcheck disable=SC2046
    cc -std=c11 -O2 -g -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE $V1 -I"$TREE/include" \
        $(pkg-config --cflags libczmq libzmq msgpack) bench/load.c -o "$TMP/load" \
        "$TREE/build/librlog.a" $(pkg-config --libs libczmq libzmq msgpack) -lm -lpthread || exit 1
    REV=$(git -C "$TREE" rev-parse --short HEAD 2>/dev/null || echo "?")
else
    B=${BUILD:-build}
    LABEL=${LABEL:-current}
    cp "$B/rlogd" "$B/bench/load" "$TMP/" || {
        echo "instructions: run 'make bench-tools' first" >&2
        exit 1
    }
    REV=$(git rev-parse --short HEAD 2>/dev/null || echo "?")
fi
OUT=bench/out/instructions-$LABEL
mkdir -p "$OUT"

port() { # a free port below the ephemeral range, not handed out before
    local p
    while :; do
        p=$((10000 + (RANDOM * 32768 + RANDOM) % 20000))
        case " ${USED:-} " in *" $p "*) continue ;; esac
        [ -n "$(ss -Htan "( sport = :$p or dport = :$p )" 2>/dev/null)" ] || break
    done
    USED="${USED:-} $p"
    echo "$p"
}
CG=(valgrind --tool=callgrind --vgdb=yes)
M= S1= S2= EP=
start() { # NAME: master + s1 under callgrind, s2 natively
    local pub peer
    EP=tcp://127.0.0.1:$(port) pub=tcp://127.0.0.1:$(port) peer=tcp://127.0.0.1:$(port)
    "${CG[@]}" --callgrind-out-file="$TMP/$1-master.%p" "$TMP/rlogd" master --replicas 2 \
        --client "$EP" --pub "$pub" --peer "$peer" >"$OUT/$1-master.log" 2>&1 &
    M=$!
    "${CG[@]}" --callgrind-out-file="$TMP/$1-s1.%p" "$TMP/rlogd" secondary --id s1 \
        --master-pub "$pub" --master-peer "$peer" --client "tcp://127.0.0.1:$(port)" \
        >"$OUT/$1-s1.log" 2>&1 &
    S1=$!
    "$TMP/rlogd" secondary --id s2 --master-pub "$pub" --master-peer "$peer" \
        --client "tcp://127.0.0.1:$(port)" >"$OUT/$1-s2.log" 2>&1 &
    S2=$!
    PIDS+=("$M" "$S1" "$S2")
    "$TMP/load" ready --endpoint "$EP" --healthy 3 --timeout-ms 60000 2>>"$OUT/$1-load.log"
}
stop() {
    local pid
    for pid in "$M" "$S1" "$S2"; do kill -TERM "$pid" 2>/dev/null; done
    for pid in "$M" "$S1" "$S2"; do wait "$pid" 2>/dev/null; done
    PIDS=()
}
control() { # OPTION: callgrind_control OPTION on the master and s1
    callgrind_control "$1" "$M" >/dev/null 2>&1 && callgrind_control "$1" "$S1" >/dev/null 2>&1
}
instr() { # FILE -> the dump's total instruction count
    awk '/^summary:/ { print $2; exit }' "$1"
}
# measure pipelined|batch1|sequential N: on a fresh cluster, zero, run the
# workload, dump; zero, idle as long, dump. -> RESULT="master s1 seconds"
# (instructions per append, idle subtracted).
RESULT=
measure() {
    local name=$1 n=$2 t0 t1 secs cmd
    start "$name" || {
        echo "instructions: $name: cluster not ready (see $OUT/)" >&2
        return 1
    }
    if [ "$name" = pipelined ]; then
        cmd=("$TMP/load" fill --endpoint "$EP" --count "$n" --payload 64 --w 3 --window 1000)
    elif [ "$name" = batch1 ]; then
        cmd=("$TMP/load" fill --endpoint "$EP" --count "$n" --payload 64 --w 3 --window 500 --batch 1)
    else
        cmd=("$TMP/load" run --endpoint "$EP" --mode sequential --count "$n" --payload 64 --w 3)
    fi
    control -z || return 1
    t0=$(date +%s%N)
    "${cmd[@]}" >>"$OUT/$name-load.log" 2>&1 || {
        echo "instructions: $name: load failed (see $OUT/$name-load.log)" >&2
        return 1
    }
    t1=$(date +%s%N)
    control -d || return 1
    secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
    control -z || return 1
    sleep "$secs"
    control -d || return 1
    local m1 m2 s1 s2 f
    for f in "$TMP/$name-master.$M.2" "$TMP/$name-s1.$S1.2"; do # written by the processes
        for _ in $(seq 50); do
            [ -n "$(instr "$f")" ] && break
            sleep 0.1
        done
    done
    # Keep the workload's dumps: callgrind_annotate OUT/NAME-master.callgrind
    cp "$TMP/$name-master.$M.1" "$OUT/$name-master.callgrind"
    cp "$TMP/$name-s1.$S1.1" "$OUT/$name-s1.callgrind"
    m1=$(instr "$TMP/$name-master.$M.1") m2=$(instr "$TMP/$name-master.$M.2")
    s1=$(instr "$TMP/$name-s1.$S1.1") s2=$(instr "$TMP/$name-s1.$S1.2")
    stop
    echo "$name: master $m1 (idle as long: $m2), s1 $s1 (idle: $s2) instructions;" \
        "$n appends in $secs s; load: $(tail -n 1 "$OUT/$name-load.log")" >>"$OUT/counts.txt"
    RESULT=$(awk -v m="$m1" -v mi="$m2" -v s="$s1" -v si="$s2" -v n="$n" -v t="$secs" \
        'BEGIN { if (m == "" || s == "") exit 1; printf "%.0f %.0f %s", (m - mi) / n, (s - si) / n, t }')
}

: >"$OUT/counts.txt"
echo "instructions: $LABEL (rlog $REV): $NPIPE pipelined, $NSEQ sequential appends of 64 B," \
    "w=3, master and s1 under callgrind (minutes)" >&2
measure pipelined "$NPIPE" || exit 1
read -r PM PS PT <<<"$RESULT"
B1M=n/a B1S=n/a B1T=-
if [ -z "$V1" ]; then
    measure batch1 "$NPIPE" || exit 1
    read -r B1M B1S B1T <<<"$RESULT"
fi
measure sequential "$NSEQ" || exit 1
read -r SM SS ST <<<"$RESULT"
{
    echo "instructions per append, $LABEL (rlog $REV), 64 B, w=3, in memory, callgrind (all threads; idle subtracted)"
    printf '%-46s %10s %10s %9s\n' workload master secondary seconds
    printf '%-46s %10s %10s %9s\n' "pipelined, $NPIPE appends, window 1000" "$PM" "$PS" "$PT"
    printf '%-46s %10s %10s %9s\n' "pipelined, $NPIPE appends, batches of 1 (w. 500)" "$B1M" "$B1S" "$B1T"
    printf '%-46s %10s %10s %9s\n' "sequential, $NSEQ appends" "$SM" "$SS" "$ST"
} | tee "bench/out/instructions-$LABEL.txt"
