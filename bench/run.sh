#!/usr/bin/env bash
# bench/run.sh - rlog benchmark driver (make bench / make bench-quick).
#
#   bench/run.sh --quick    in memory, 3 runs of 0.4 s per configuration, about a minute
#   bench/run.sh --full     5 runs of 1.5 s per configuration (durable rows: 3),
#                           ~10 minutes with rlogd's three fsync policies
#
# Runs, in one invocation and interleaved run by run (so machine noise hits
# every system alike): the transport ceiling (bench/ceiling.c), the raw-libzmq
# ideal (bench/ideal.c, 1 and 32 clients, 64 B), the Redis replication
# baseline (bench/redis_bench.c against redis-server), and the rlog matrix
# w=1,2,3 x 64 B, 1 KiB x sequential, 32 clients, pipelined (window 1000) x
# in memory and (full profile) on disk under each fsync policy; the quick
# profile runs one durable row, 32 clients w=3 64 B under --fsync always.
# Then catch-up and memory (in memory), and failover: three elected nodes
# (rlogd node --peers), the master killed K times (5 full, 3 quick) under a
# w=2 client. Writes bench/out/run-ID.csv (every run),
# bench/out/summary-ID.csv (medians), bench/out/results.md (+ a copy
# results-ID.md), bench/out/results.png (gnuplot), logs in bench/out/logs-ID/.
# A full run also refreshes the table in bench/README.md (BENCH_README=0: not).
# The last line printed is the "bench: ..." summary line.
#
# Knobs (environment): BENCH_RUNS, BENCH_SECONDS, BENCH_WARMUP,
# BENCH_DURABLE_RUNS, BENCH_PAYLOADS ("64 1024"), BENCH_CATCHUP_N,
# BENCH_MEM1K_N, BENCH_STORAGES (see storage_args), BENCH_FSYNC_POLICIES,
# BENCH_DATA_DIR (parent of the data directories), BENCH_FAILOVER_KILLS (K;
# 0 skips failover), BENCH_PARTS (default "matrix catchup memory failover":
# which parts run), BENCH_README.
# Every process started here is killed and reaped on exit, even on failure.
set -u -o pipefail
cd "$(dirname "$0")/.."

PROFILE=quick
case "${1:---quick}" in
--quick) PROFILE=quick ;;
--full) PROFILE=full ;;
*)
    echo "usage: bench/run.sh [--quick|--full]" >&2
    exit 2
    ;;
esac

B=${BUILD:-build}
T=$B/bench
if [ "$PROFILE" = quick ]; then
    RUNS=${BENCH_RUNS:-3}
    SECS=${BENCH_SECONDS:-0.4}
    WARM=${BENCH_WARMUP:-0.1}
    CATCHUP_N=${BENCH_CATCHUP_N:-1000000}
    MEM1K_N=${BENCH_MEM1K_N:-100000}
    FAILOVER_KILLS=${BENCH_FAILOVER_KILLS:-3}
else
    RUNS=${BENCH_RUNS:-5}
    SECS=${BENCH_SECONDS:-1.5}
    WARM=${BENCH_WARMUP:-0.3}
    CATCHUP_N=${BENCH_CATCHUP_N:-1000000}
    MEM1K_N=${BENCH_MEM1K_N:-1000000}
    FAILOVER_KILLS=${BENCH_FAILOVER_KILLS:-5}
fi
PARTS=" ${BENCH_PARTS:-matrix catchup memory failover} "
part() { case "$PARTS" in *" $1 "*) return 0 ;; esac; return 1; }
DURABLE_RUNS=${BENCH_DURABLE_RUNS:-$((RUNS < 3 ? RUNS : 3))}
PAYLOADS=${BENCH_PAYLOADS:-64 1024}
WINDOW=1000
CLIENTS=32
RUN_TIMEOUT=$(awk -v s="$SECS" -v w="$WARM" 'BEGIN { printf "%d", s + w + 30 }')

for prog in "$B/rlogd" "$B/logcli" "$T/load" "$T/ceiling" "$T/ideal" "$T/redis_bench"; do
    if [ ! -x "$prog" ]; then
        echo "bench: $prog is missing: run 'make bench-tools' first" >&2
        exit 1
    fi
done

OUT=bench/out
RUN_ID=$(date +%Y%m%d-%H%M%S)-$PROFILE
LOGS=$OUT/logs-$RUN_ID
CSV=$OUT/run-$RUN_ID.csv
SUMMARY=$OUT/summary-$RUN_ID.csv
RESULTS=$OUT/results.md
DATA=${BENCH_DATA_DIR:-$OUT}/data-$RUN_ID # durable rows' data directories, removed at exit
mkdir -p "$LOGS" || exit 1
TMP=$(mktemp -d "${TMPDIR:-/tmp}/rlog-bench.XXXXXX") || exit 1
# Run private copies: a rebuild of $B during the run (others share it) must
# neither fail an exec ("Text file busy") nor mix two versions in one run.
mkdir -p "$TMP/bin" && cp "$B/rlogd" "$B/logcli" "$T/load" "$T/ceiling" "$T/ideal" "$T/redis_bench" \
    "$TMP/bin/" || {
    rm -rf "$TMP"
    exit 1
}
B=$TMP/bin
T=$TMP/bin
# What is measured: the tree as the binaries were copied (HEAD may move during the run).
REV="$(git rev-parse --short HEAD 2>/dev/null || echo "?")$(
    [ -z "$(git status --porcelain -- src include 2>/dev/null)" ] ||
        echo " with uncommitted changes in src/ or include/")"
echo "run_id,system,mode,w,payload,clients,window,storage,rep,msgs,seconds,msgs_per_s,mb_per_s,p50_us,p99_us,p999_us,errors,rss_before_kb,rss_after_kb,bytes_per_entry" >"$CSV"

say() { echo "bench: $*" >&2; }

# --- processes --------------------------------------------------------------
PIDS=()
LAST_PID=
start_bg() { # LOGNAME CMD...: start CMD in the background, logging to LOGS
    local name=$1
    shift
    "$@" >>"$LOGS/$name.log" 2>&1 &
    LAST_PID=$!
    PIDS+=("$LAST_PID")
}
stop_pid() { # PID: SIGTERM, up to 5 s grace, then SIGKILL; always reaped
    local pid=$1 i keep=()
    [ -n "$pid" ] || return 0
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null
        for i in $(seq 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null
    fi
    wait "$pid" 2>/dev/null
    for i in "${PIDS[@]}"; do
        [ "$i" = "$pid" ] || keep+=("$i")
    done
    PIDS=("${keep[@]}")
}
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
    rm -rf "$TMP" "$DATA"
}
trap cleanup EXIT
trap 'say "interrupted"; exit 130' INT TERM

USED_PORTS=" "
# Listening ports come from below the kernel's ephemeral range, so that no
# outgoing connection can take one between the check and the bind.
EPHEMERAL_LOW=$(awk '{ print $1 }' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
[ "$EPHEMERAL_LOW" -gt 12000 ] 2>/dev/null || EPHEMERAL_LOW=32768
PORT=
freeport() { # -> PORT: a free TCP port on 127.0.0.1 not handed out before in this run
    local p i
    for i in $(seq 200); do
        p=$((10000 + (RANDOM * 32768 + RANDOM) % (EPHEMERAL_LOW - 10000)))
        case "$USED_PORTS" in *" $p "*) continue ;; esac
        if [ -z "$(ss -Htan "( sport = :$p or dport = :$p )" 2>/dev/null)" ]; then
            USED_PORTS="$USED_PORTS$p "
            PORT=$p
            return 0
        fi
    done
    say "no free port found"
    exit 1
}

bpe() { # RSS_BEFORE_KB RSS_AFTER_KB ENTRIES PAYLOAD -> bytes per entry beyond the payload
    awk -v a="$1" -v b="$2" -v n="$3" -v p="$4" 'BEGIN { printf "%.1f", (b - a) * 1024 / n - p }'
}
# tool SECONDS CMD...: run CMD bounded by SECONDS; its last stdout line goes to
# $TOOL_OUT, stderr to tools.log. CMD runs in the background and is waited for
# with the wait builtin, so Ctrl-C / SIGTERM reach the trap at once (a
# foreground child would make bash defer or drop them).
TOOL_OUT=
tool() {
    local limit=$1 pid rc
    shift
    echo "$(date +%T.%N | cut -c1-12) ${*#"$T/"}" >>"$LOGS/tools.log"
    timeout -k 3 "$limit" "$@" >"$TMP/tool.out" 2>>"$LOGS/tools.log" &
    pid=$!
    PIDS+=("$pid")
    wait "$pid"
    rc=$?
    stop_pid "$pid"
    TOOL_OUT=$(tail -n 1 "$TMP/tool.out")
    echo "$(date +%T.%N | cut -c1-12)   rc=$rc: $TOOL_OUT" >>"$LOGS/tools.log"
    return $rc
}

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }

# --- rows ---------------------------------------------------------------------
FAILURES=0
# run_row SYSTEM MODE W PAYLOAD CLIENTS WINDOW STORAGE REP -- CMD...
# CMD prints the bench_util.h result line; it becomes one CSV row.
run_row() {
    local sys=$1 mode=$2 w=$3 payload=$4 clients=$5 window=$6 storage=$7 rep=$8
    shift 9
    if ! tool "$RUN_TIMEOUT" "$@" || [ -z "$TOOL_OUT" ]; then
        FAILURES=$((FAILURES + 1))
        say "FAILED: $sys $mode w=$w ${payload}B $storage run $rep (see $LOGS/tools.log)"
        return 1
    fi
    echo "$RUN_ID,$sys,$mode,$w,$payload,$clients,$window,$storage,$rep,$TOOL_OUT,,," >>"$CSV"
}
# extra_row SYSTEM MODE W PAYLOAD STORAGE REP MSGS SECONDS RATE RSS0 RSS1 BPE
extra_row() {
    echo "$RUN_ID,$1,$2,$3,$4,,,$5,$6,$7,$8,$9,,,,,,${10},${11},${12}" >>"$CSV"
}

# --- the rlog cluster ---------------------------------------------------------
# A storage is "mem" (in memory), "disk" (--data-dir, rlogd's default fsync
# policy) or "fsync-POLICY" (--data-dir and --fsync POLICY). The full profile
# adds one fsync-POLICY per policy that rlogd --help lists for --fsync
# (BENCH_FSYNC_POLICIES overrides; BENCH_STORAGES sets the list outright).
# Data directories live under DATA, on the disk under test (not a tmpfs).
storage_args() { # STORAGE NODE
    case "$1" in
    mem) ;;
    disk) echo "--data-dir $DATA/$2" ;;
    fsync-*) echo "--data-dir $DATA/$2 --fsync ${1#fsync-}" ;;
    esac
}
STORAGES=${BENCH_STORAGES:-}
DURABLE_SKIP=
# The quick profile's one durable row: CLIENTS clients w=3 64 B, --fsync always.
QUICK_ALWAYS=
# rlogd's help, read once (grep -q on a pipe under pipefail would fail on SIGPIPE)
RLOGD_HELP=$("$B/rlogd" --help 2>&1)
HAS_DATA_DIR=no
grep -q -- '--data-dir' <<<"$RLOGD_HELP" && HAS_DATA_DIR=yes
POLICIES=$(sed -n 's/^ *--fsync  *\([a-z|]*\).*/\1/p' <<<"$RLOGD_HELP" | head -n 1 | tr '|' ' ')
if [ -z "$STORAGES" ]; then
    STORAGES=mem
    if [ "$HAS_DATA_DIR" = no ]; then
        DURABLE_SKIP="rlogd has no --data-dir (the log is in memory only)"
    elif [ "$PROFILE" = quick ]; then
        DURABLE_SKIP="the quick profile runs only $CLIENTS clients w=3 64 B under --fsync always (make bench runs them all)"
        case " $POLICIES " in
        *" always "*) QUICK_ALWAYS=yes ;;
        *) DURABLE_SKIP="the quick profile runs none: rlogd has no --fsync always" ;;
        esac
    else
        policies=${BENCH_FSYNC_POLICIES:-$POLICIES}
        if [ -n "$policies" ]; then
            for p in $policies; do STORAGES="$STORAGES fsync-$p"; done
        else
            STORAGES="mem disk"
        fi
    fi
fi
[ -z "$DURABLE_SKIP" ] || say "durable rows: $DURABLE_SKIP"
# Failover needs elected nodes (rlogd node), which need a data dir.
FAILOVER_SKIP=
if ! part failover || [ "$FAILOVER_KILLS" -lt 1 ] 2>/dev/null; then
    FAILOVER_SKIP="not asked for (BENCH_PARTS / BENCH_FAILOVER_KILLS)"
elif [ "$HAS_DATA_DIR" = no ] || ! grep -q -- '--peers' <<<"$RLOGD_HELP"; then
    FAILOVER_SKIP="rlogd has no elected nodes (rlogd node --peers --data-dir)"
fi
[ -z "$FAILOVER_SKIP" ] || say "failover skipped: $FAILOVER_SKIP"
DATA_FS=
if [ "$STORAGES" != mem ] || [ -n "$QUICK_ALWAYS" ] || [ -z "$FAILOVER_SKIP" ]; then
    mkdir -p "$DATA"
    DATA_FS=$(df -PT "$DATA" 2>/dev/null | awk 'NR == 2 { print $2 }')
    [ "$DATA_FS" != tmpfs ] ||
        say "warning: $DATA is on tmpfs: fsync costs nothing there (set BENCH_DATA_DIR to a disk)"
fi

M_PID= S1_PID= S2_PID=
M_EP= M_PUB= M_PEER= S1_EP= S2_EP=
CLUSTER_STORAGE=mem
CLUSTER_NAME=
cluster_start() { # NAME STORAGE SECONDARIES...: master + the given secondaries
    CLUSTER_NAME=$1
    CLUSTER_STORAGE=$2
    shift 2
    if [ "$CLUSTER_STORAGE" != mem ]; then
        rm -rf "$DATA"
        mkdir -p "$DATA"
    fi
    freeport && M_EP=tcp://127.0.0.1:$PORT
    freeport && M_PUB=tcp://127.0.0.1:$PORT
    freeport && M_PEER=tcp://127.0.0.1:$PORT
    freeport && S1_EP=tcp://127.0.0.1:$PORT
    freeport && S2_EP=tcp://127.0.0.1:$PORT
    # shellcheck disable=SC2046
    start_bg "$CLUSTER_NAME-master" "$B/rlogd" master --replicas 2 --client "$M_EP" \
        --pub "$M_PUB" --peer "$M_PEER" $(storage_args "$CLUSTER_STORAGE" master)
    M_PID=$LAST_PID
    local s
    for s in "$@"; do secondary_start "$s"; done
}
secondary_start() { # s1|s2
    local ep=$S1_EP
    [ "$1" = s2 ] && ep=$S2_EP
    # shellcheck disable=SC2046
    start_bg "$CLUSTER_NAME-$1" "$B/rlogd" secondary --id "$1" --master-pub "$M_PUB" \
        --master-peer "$M_PEER" --client "$ep" $(storage_args "$CLUSTER_STORAGE" "$1")
    if [ "$1" = s1 ]; then S1_PID=$LAST_PID; else S2_PID=$LAST_PID; fi
}
cluster_stop() {
    stop_pid "$S2_PID"
    stop_pid "$S1_PID"
    stop_pid "$M_PID"
    S2_PID= S1_PID= M_PID=
}
# cluster_up NAME STORAGE HEALTHY SECONDARIES...: start, and wait until the
# master is read-write with HEALTHY nodes. A port taken by someone else in
# the meantime makes a node exit at once: then again on new ports (3 tries).
cluster_up() {
    local name=$1 storage=$2 healthy=$3 try
    shift 3
    for try in 1 2 3; do
        cluster_start "$name" "$storage" "$@"
        tool 25 "$T/load" ready --endpoint "$M_EP" --healthy "$healthy" --timeout-ms 20000 &&
            return 0
        cluster_stop
        [ "$try" = 3 ] || say "cluster $name not ready, again on new ports (see $LOGS/$name-*.log)"
    done
    say "FAILED: cluster $name not ready (see $LOGS/)"
    FAILURES=$((FAILURES + 1))
    return 1
}

# --- Redis ----------------------------------------------------------------------
REDIS=no
REDIS_PORT=
REDIS_PIDS=()
redis_start() {
    if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
        say "Redis baseline skipped: redis-server/redis-cli not installed" \
            "(apt-get install redis-server); its ratios are n/a"
        return 1
    fi
    local dir=$TMP/redis port i try pid
    mkdir -p "$dir"
    local common=(--bind 127.0.0.1 --save '' --appendonly no --dir "$dir" --logfile ''
        --repl-diskless-sync-delay 0 --daemonize no)
    for try in 1 2 3; do # new ports if one was taken meanwhile
        freeport && REDIS_PORT=$PORT
        start_bg redis-master redis-server --port "$REDIS_PORT" "${common[@]}" --dbfilename m.rdb
        REDIS_PIDS=("$LAST_PID")
        for i in 1 2; do
            freeport && port=$PORT
            start_bg "redis-replica$i" redis-server --port "$port" "${common[@]}" \
                --dbfilename "r$i.rdb" --replicaof 127.0.0.1 "$REDIS_PORT"
            REDIS_PIDS+=("$LAST_PID")
        done
        for i in $(seq 100); do
            if [ "$(redis-cli -p "$REDIS_PORT" info replication 2>/dev/null | grep -c 'state=online')" = 2 ]; then
                REDIS=yes
                return 0
            fi
            sleep 0.1
        done
        for pid in "${REDIS_PIDS[@]}"; do stop_pid "$pid"; done
    done
    say "Redis baseline skipped: replicas did not come online (see $LOGS/redis-*.log)"
    return 1
}

# Machine noise: CPU used by processes that are not ours during the run.
busy_jiffies() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }
own_seconds() { # -> OWN: CPU seconds of our reaped children (times must run in this shell)
    times >"$TMP/times"
    OWN=$(awk 'NR == 2 { gsub(/[ms]/, " "); print $1 * 60 + $2 + $3 * 60 + $4 }' "$TMP/times")
}
BUSY0=$(busy_jiffies)
own_seconds
OWN0=$OWN
START_S=$(date +%s.%N)

# --- the measurements -----------------------------------------------------------
say "$PROFILE: $RUNS runs x ${SECS}s (+${WARM}s warm-up) per configuration; payloads $PAYLOADS;" \
    "storages $STORAGES; output $CSV"
redis_start

part matrix || RUNS_MATRIX=0
for rep in $(seq "${RUNS_MATRIX:-$RUNS}"); do
    say "run $rep/$RUNS: ceiling, ideal"
    for p in $PAYLOADS; do
        run_row ceiling pipelined 3 "$p" 1 "$WINDOW" mem "$rep" -- \
            "$T/ceiling" --payload "$p" --window "$WINDOW" --seconds "$SECS" --warmup "$WARM"
    done
    run_row ceiling window1 3 64 1 1 mem "$rep" -- \
        "$T/ceiling" --payload 64 --window 1 --seconds "$SECS" --warmup "$WARM"
    run_row ideal sequential 3 64 1 1 mem "$rep" -- \
        "$T/ideal" --clients 1 --payload 64 --seconds "$SECS" --warmup "$WARM"
    run_row ideal clients 3 64 "$CLIENTS" 1 mem "$rep" -- \
        "$T/ideal" --clients "$CLIENTS" --payload 64 --seconds "$SECS" --warmup "$WARM"

    if [ "$REDIS" = yes ]; then
        say "run $rep/$RUNS: redis"
        for p in $PAYLOADS; do
            run_row redis sequential 3 "$p" 1 1 mem "$rep" -- "$T/redis_bench" --port "$REDIS_PORT" \
                --clients 1 --payload "$p" --seconds "$SECS" --warmup "$WARM"
            run_row redis clients 3 "$p" "$CLIENTS" 1 mem "$rep" -- "$T/redis_bench" \
                --port "$REDIS_PORT" --clients "$CLIENTS" --payload "$p" --seconds "$SECS" \
                --warmup "$WARM"
        done
        redis-cli -p "$REDIS_PORT" flushall >/dev/null 2>&1
    fi

    for storage in $STORAGES; do
        [ "$storage" = mem ] || [ "$rep" -le "$DURABLE_RUNS" ] || continue
        for p in $PAYLOADS; do
            say "run $rep/$RUNS: rlog $storage ${p}B"
            if cluster_up "r$rep-$storage-$p" "$storage" 3 s1 s2; then
                for w in 1 2 3; do
                    run_row rlog sequential "$w" "$p" 1 1 "$storage" "$rep" -- "$T/load" run \
                        --endpoint "$M_EP" --mode sequential --w "$w" --payload "$p" \
                        --seconds "$SECS" --warmup "$WARM"
                    run_row rlog clients "$w" "$p" "$CLIENTS" 1 "$storage" "$rep" -- "$T/load" run \
                        --endpoint "$M_EP" --mode clients --clients "$CLIENTS" --w "$w" \
                        --payload "$p" --seconds "$SECS" --warmup "$WARM"
                    run_row rlog pipelined "$w" "$p" 1 "$WINDOW" "$storage" "$rep" -- "$T/load" run \
                        --endpoint "$M_EP" --mode pipelined --window "$WINDOW" --w "$w" \
                        --payload "$p" --seconds "$SECS" --warmup "$WARM"
                done
            fi
            cluster_stop
        done
    done
    if [ -n "$QUICK_ALWAYS" ]; then
        say "run $rep/$RUNS: rlog fsync-always 64B, $CLIENTS clients w=3"
        if cluster_up "r$rep-fsync-always-64" fsync-always 3 s1 s2; then
            run_row rlog clients 3 64 "$CLIENTS" 1 fsync-always "$rep" -- "$T/load" run \
                --endpoint "$M_EP" --mode clients --clients "$CLIENTS" --w 3 --payload 64 \
                --seconds "$SECS" --warmup "$WARM"
        fi
        cluster_stop
    fi
done

# Catch-up and memory, 64 B: master + s1 only (quorum 2 of 3), fill, then
# start s2 (empty, in memory) and time until its head reaches N; repeated by
# restarting s2 empty. RSS of the master and s1 before and after the fill.
part catchup && say "catch-up: $CATCHUP_N x 64 B with s2 down, then s2 catches up ($RUNS times)"
if part catchup && cluster_up catchup mem 2 s1; then
    m0=$(rss_kb "$M_PID")
    s10=$(rss_kb "$S1_PID")
    tool 300 "$T/load" fill --endpoint "$M_EP" --count "$CATCHUP_N" --payload 64 --w 2 \
        --window "$WINDOW"
    fill=$TOOL_OUT
    if [ -n "$fill" ] && tool 70 "$T/load" wait-head --endpoint "$S1_EP" --head "$CATCHUP_N" \
        --timeout-ms 60000; then
        IFS=, read -r n secs rate _ <<<"$fill"
        extra_row rlog fill 2 64 mem 1 "$n" "$secs" "$rate" "" "" ""
        sleep 0.3 # let the allocators settle before reading RSS
        m1=$(rss_kb "$M_PID")
        s11=$(rss_kb "$S1_PID")
        extra_row rlog memory-master 2 64 mem 1 "$CATCHUP_N" "" "" "$m0" "$m1" "$(bpe "$m0" "$m1" "$CATCHUP_N" 64)"
        extra_row rlog memory-s1 2 64 mem 1 "$CATCHUP_N" "" "" "$s10" "$s11" "$(bpe "$s10" "$s11" "$CATCHUP_N" 64)"
        for rep in $(seq "$RUNS"); do
            t0=$(date +%s%N)
            secondary_start s2
            tool 70 "$T/load" wait-head --endpoint "$S2_EP" --head "$CATCHUP_N" \
                --since-ns "$t0" --poll-ms 20 --timeout-ms 60000
            line=$TOOL_OUT
            if [ -n "$line" ]; then
                IFS=, read -r secs rate <<<"$line"
                extra_row rlog catchup 1 64 mem "$rep" "$CATCHUP_N" "$secs" "$rate" "" "" ""
                if [ "$rep" = 1 ]; then
                    s21=$(rss_kb "$S2_PID")
                    # s2 has no "before": the empty secondary s1 was measured at start.
                    extra_row rlog memory-s2 1 64 mem 1 "$CATCHUP_N" "" "" "$s10" "$s21" \
                        "$(bpe "$s10" "$s21" "$CATCHUP_N" 64)"
                fi
            else
                FAILURES=$((FAILURES + 1))
                say "FAILED: catch-up run $rep (see $LOGS/)"
            fi
            stop_pid "$S2_PID"
            S2_PID=
        done
    else
        FAILURES=$((FAILURES + 1))
        say "FAILED: catch-up fill (see $LOGS/tools.log)"
    fi
fi
cluster_stop

# Memory, 1 KiB: the whole cluster holds MEM1K_N entries (w=3).
part memory && say "memory: $MEM1K_N x 1 KiB on master, s1, s2"
if part memory && cluster_up mem1k mem 3 s1 s2; then
    m0=$(rss_kb "$M_PID")
    s10=$(rss_kb "$S1_PID")
    s20=$(rss_kb "$S2_PID")
    tool 300 "$T/load" fill --endpoint "$M_EP" --count "$MEM1K_N" --payload 1024 --w 3 \
        --window "$WINDOW"
    fill=$TOOL_OUT
    if [ -n "$fill" ]; then
        sleep 0.3
        m1=$(rss_kb "$M_PID")
        s11=$(rss_kb "$S1_PID")
        s21=$(rss_kb "$S2_PID")
        extra_row rlog memory-master 3 1024 mem 1 "$MEM1K_N" "" "" "$m0" "$m1" "$(bpe "$m0" "$m1" "$MEM1K_N" 1024)"
        extra_row rlog memory-s1 3 1024 mem 1 "$MEM1K_N" "" "" "$s10" "$s11" "$(bpe "$s10" "$s11" "$MEM1K_N" 1024)"
        extra_row rlog memory-s2 3 1024 mem 1 "$MEM1K_N" "" "" "$s20" "$s21" "$(bpe "$s20" "$s21" "$MEM1K_N" 1024)"
    else
        FAILURES=$((FAILURES + 1))
        say "FAILED: 1 KiB fill (see $LOGS/tools.log)"
    fi
fi
cluster_stop
for pid in "${REDIS_PIDS[@]}"; do stop_pid "$pid"; done

# --- failover (issue 13) ----------------------------------------------------------
# Three elected nodes (rlogd node --peers, default timers, data dirs under
# DATA, default fsync) and one client appending w=2 continuously with all
# three endpoints (load failover-client: it follows NOT_MASTER). K times:
# find the master (logcli status on each node: role master, read-write, 3
# healthy), see the client append, kill -9 the master; the failover time is
# from just before the kill to the end of the first successful w=2 append
# after it (the first "resumed" line of the client past the kill); then the
# dead node is restarted on its data dir, so the next kill again has 3
# members and hits the newly elected master. A success ending within
# FO_INFLIGHT_MS of the kill is a reply the dead master sent before it died
# (no election ends that soon: its timeout is at least 1 s), not a failover.
FO_INFLIGHT_MS=100
FO_PORT=() FO_PID=() FO_M= FO_PEERS= FO_EPS= FO_OUT=$TMP/failover.out
freeport3() { # -> PORT: PORT, PORT+1, PORT+2 all free (a node's client, PUB, peer)
    local i p q ok
    for i in $(seq 200); do
        freeport
        p=$PORT ok=yes
        for q in $((p + 1)) $((p + 2)); do
            case "$USED_PORTS" in *" $q "*) ok=no ;; esac
            [ -z "$(ss -Htan "( sport = :$q or dport = :$q )" 2>/dev/null)" ] || ok=no
        done
        if [ "$ok" = yes ] && [ $((p + 2)) -lt "$EPHEMERAL_LOW" ]; then
            USED_PORTS="$USED_PORTS$((p + 1)) $((p + 2)) "
            PORT=$p
            return 0
        fi
    done
    say "no three free ports found"
    exit 1
}
fo_start() { # I: start node nI on its data dir
    start_bg "failover-n$1" "$B/rlogd" node --id "n$1" --peers "$FO_PEERS" \
        --data-dir "$DATA/failover/n$1"
    FO_PID[$1]=$LAST_PID
}
fo_kill() { # I: kill -9 node nI and reap it (stop_pid would wait on the zombie)
    local pid=${FO_PID[$1]} keep=() i
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    for i in "${PIDS[@]}"; do [ "$i" = "$pid" ] || keep+=("$i"); done
    PIDS=("${keep[@]}")
    FO_PID[$1]=
}
fo_field() { # JSON KEY -> the value of the first "KEY": (string or number)
    grep -o "\"$2\":\"\{0,1\}[^\",}]*" <<<"$1" | head -n 1 | sed 's/^[^:]*:"\{0,1\}//'
}
fo_master() { # -> FO_M: the node that is master, read-write, 3 healthy (30 s at most)
    local i json give_up=$((SECONDS + 30))
    while [ "$SECONDS" -lt "$give_up" ]; do
        for i in 1 2 3; do
            json=$(timeout 5 "$B/logcli" -e "tcp://127.0.0.1:${FO_PORT[$i]}" --retry-ms 300 \
                status --json 2>/dev/null) || continue
            if [ "$(fo_field "$json" role)" = master ] &&
                [ "$(fo_field "$json" mode)" = read-write ] &&
                [ "$(fo_field "$json" healthy)" = 3 ]; then
                FO_M=$i
                return 0
            fi
        done
        sleep 0.1
    done
    return 1
}
fo_wait_line() { # KIND AFTER_NS SECONDS -> FO_LINE: the first client line "KIND ... NS" with NS > AFTER_NS
    local give_up=$((SECONDS + $3))
    while [ "$SECONDS" -le "$give_up" ]; do
        FO_LINE=$(awk -v k="$1" -v t="$2" '$1 == k && $NF + 0 > t + 0 { print; exit }' "$FO_OUT")
        [ -n "$FO_LINE" ] && return 0
        kill -0 "$FO_CLIENT" 2>/dev/null || return 1
        sleep 0.02
    done
    return 1
}
fo_elected() { # T_KILL_NS -> seconds from the kill to the first "elected master" logged after it
    local line ts ns
    grep -h 'elected master of epoch' "$LOGS"/failover-n*.log 2>/dev/null | sort | while read -r ts line; do
        ns=$(date -u -d "$ts" +%s%N 2>/dev/null) || continue
        if [ "$ns" -gt "$1" ]; then
            awk -v a="$1" -v b="$ns" 'BEGIN { printf "%.3f\n", (b - a) / 1e9 }'
            break
        fi
    done
}
failover_run() {
    local i k t_ready t_kill secs elected
    rm -rf "$DATA/failover"
    mkdir -p "$DATA/failover"
    FO_PEERS= FO_EPS=
    for i in 1 2 3; do
        freeport3
        FO_PORT[i]=$PORT
        FO_PEERS="$FO_PEERS${FO_PEERS:+,}n$i=127.0.0.1:$PORT"
        FO_EPS="$FO_EPS${FO_EPS:+,}tcp://127.0.0.1:$PORT"
    done
    for i in 1 2 3; do fo_start "$i"; done
    if ! fo_master; then
        say "FAILED: failover: no master with 3 healthy nodes (see $LOGS/failover-n*.log)"
        FAILURES=$((FAILURES + 1))
        return 1
    fi
    : >"$FO_OUT"
    "$T/load" failover-client --endpoint "$FO_EPS" --w 2 --payload 64 --seconds 900 \
        >"$FO_OUT" 2>>"$LOGS/failover-client.log" &
    FO_CLIENT=$!
    PIDS+=("$FO_CLIENT")
    for k in $(seq "$FAILOVER_KILLS"); do
        t_ready=$(date +%s%N)
        if ! fo_master || ! fo_wait_line ok "$t_ready" 20; then
            say "FAILED: failover $k: no master with 3 healthy nodes, or no appends (see $LOGS/failover-*)"
            FAILURES=$((FAILURES + 1))
            break
        fi
        t_kill=$(date +%s%N)
        fo_kill "$FO_M"
        echo "$(date +%T.%N | cut -c1-12) failover $k: kill -9 n$FO_M at $t_kill" >>"$LOGS/tools.log"
        if ! fo_wait_line resumed "$((t_kill + FO_INFLIGHT_MS * 1000000))" 60; then
            say "FAILED: failover $k: no w=2 append succeeded within 60 s of the kill (see $LOGS/failover-*)"
            FAILURES=$((FAILURES + 1))
            break
        fi
        read -r _ _ t_ok <<<"$FO_LINE"
        secs=$(awk -v a="$t_kill" -v b="$t_ok" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
        echo "$(date +%T.%N | cut -c1-12) failover $k: first w=2 append after the kill: $secs s" >>"$LOGS/tools.log"
        extra_row rlog failover 2 64 disk "$k" 1 "$secs" "" "" "" ""
        # Of which the election: the new master's log line, to the ms.
        elected=$(fo_elected "$t_kill")
        [ -z "$elected" ] || extra_row rlog election 2 64 disk "$k" 1 "$elected" "" "" "" ""
        say "failover $k/$FAILOVER_KILLS: n$FO_M killed, a new master elected after ${elected:-?} s," \
            "appends resumed after $secs s"
        fo_start "$FO_M"
    done
    stop_pid "$FO_CLIENT"
    for i in 1 2 3; do stop_pid "${FO_PID[$i]}"; done
    rm -rf "$DATA/failover"
}
if [ -z "$FAILOVER_SKIP" ]; then
    say "failover: 3 elected nodes, a w=2 client, the master killed $FAILOVER_KILLS times"
    failover_run
fi

# --- summary --------------------------------------------------------------------
own_seconds
OTHERS=$(awk -v b0="$BUSY0" -v b1="$(busy_jiffies)" -v o0="$OWN0" -v o1="$OWN" \
    -v t0="$START_S" -v t1="$(date +%s.%N)" -v hz="$(getconf CLK_TCK)" \
    'BEGIN { x = ((b1 - b0) / hz - (o1 - o0)) / (t1 - t0); printf "%.2f", x < 0 ? 0 : x }')
# agg SYSTEM MODE W PAYLOAD STORAGE COLUMN -> "median min max count" (empty if none)
agg() {
    awk -F, -v s="$1" -v m="$2" -v w="$3" -v p="$4" -v st="$5" -v c="$6" \
        'NR > 1 && $2 == s && $3 == m && $4 == w && $5 == p && $8 == st && $c != "" { print $c }' "$CSV" |
        sort -g | awk '{ v[NR] = $1 } END {
            if (NR == 0) exit
            med = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
            printf "%s %s %s %d\n", med, v[1], v[NR], NR }'
}
med() { agg "$@" | awk '{ print $1 }'; }
ratio() { # A B -> A/B with 2 decimals, n/a if either is missing or zero
    awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b + 0 == 0) print "n/a"; else printf "%.2f", a / b }'
}
fmt() { # NUMBER -> thousands separators, no decimals (>= 100) or 1 decimal
    awk -v x="$1" 'BEGIN {
        if (x == "") { print "-"; exit }
        if (x + 0 >= 100 || x + 0 <= -100) {
            s = sprintf("%.0f", x); neg = s ~ /^-/; if (neg) s = substr(s, 2)
            o = ""; while (length(s) > 3) { o = "," substr(s, length(s) - 2) o; s = substr(s, 1, length(s) - 3) }
            print (neg ? "-" : "") s o
        } else printf "%.1f\n", x }'
}
fmtn() { if [ "$1" = n/a ]; then echo n/a; else fmt "$1"; fi; }
spread() { # "med min max n" -> "med [min-max]"
    [ -n "$1" ] || { echo "-"; return; }
    set -- $1
    echo "$(fmt "$1") [$(fmt "$2")–$(fmt "$3")]"
}

label() { # SYSTEM MODE W PAYLOAD STORAGE
    local what
    case "$1/$2" in
    ceiling/pipelined) what="PUB→2 SUB + ACK, window $WINDOW" ;;
    ceiling/window1) what="PUB→2 SUB + ACK, window 1 (round trip)" ;;
    ideal/sequential) what="DEALER→ROUTER→PUB 2 SUB, ACK each, w=3, 1 client" ;;
    ideal/clients) what="DEALER→ROUTER→PUB 2 SUB, ACK each, w=3, $CLIENTS clients" ;;
    redis/sequential) what="RPUSH+WAIT 2, 1 client" ;;
    redis/clients) what="RPUSH+WAIT 2, $CLIENTS clients" ;;
    rlog/sequential) what="w=$3, sequential" ;;
    rlog/clients) what="w=$3, $CLIENTS clients" ;;
    rlog/pipelined) what="w=$3, pipelined window $WINDOW" ;;
    esac
    local size="$4 B"
    [ "$4" = 1024 ] && size="1 KiB"
    local where=""
    [ "$1" = rlog ] && [ "$5" = disk ] && where=", on disk"
    [ "$1" = rlog ] && [ "${5#fsync-}" != "$5" ] && where=", on disk, fsync ${5#fsync-}"
    [ "$1" = rlog ] && [ "$5" = mem ] && where=", in memory"
    echo "$1 $size, $what$where"
}

CONFIGS=()
for p in $PAYLOADS; do
    CONFIGS+=("ceiling pipelined 3 $p mem")
    [ "$p" = 64 ] && CONFIGS+=("ceiling window1 3 64 mem" "ideal sequential 3 64 mem" "ideal clients 3 64 mem")
    CONFIGS+=("redis sequential 3 $p mem" "redis clients 3 $p mem")
    for storage in $STORAGES; do
        for w in 1 2 3; do
            for m in sequential clients pipelined; do CONFIGS+=("rlog $m $w $p $storage"); done
        done
    done
    [ "$p" != 64 ] || [ -z "$QUICK_ALWAYS" ] || CONFIGS+=("rlog clients 3 64 fsync-always")
done

{
    echo "config,system,mode,w,payload,storage,runs,msgs_per_s_median,msgs_per_s_min,msgs_per_s_max,mb_per_s_median,p50_us_median,p99_us_median,p99_us_min,p99_us_max,p999_us_median,errors"
    for c in "${CONFIGS[@]}"; do
        set -- $c
        t=$(agg "$@" 12)
        [ -n "$t" ] || continue
        set -- $c
        read -r tm tmin tmax n <<<"$t"
        read -r p99 p99min p99max _ <<<"$(agg "$@" 15)"
        errs=$(awk -F, -v s="$1" -v m="$2" -v w="$3" -v p="$4" -v st="$5" \
            'NR > 1 && $2 == s && $3 == m && $4 == w && $5 == p && $8 == st { e += $17 } END { print e + 0 }' "$CSV")
        echo "\"$(label "$@")\",$1,$2,$3,$4,$5,$n,$tm,$tmin,$tmax,$(med "$@" 13),$(med "$@" 14),$p99,$p99min,$p99max,$(med "$@" 16),$errs"
    done
} >"$SUMMARY"

# The summary line's figures (64 B, in memory unless said).
CEIL=$(med ceiling pipelined 3 64 mem 12)
CEIL_RTT=$(med ceiling window1 3 64 mem 14)
I1=$(med ideal sequential 3 64 mem 12)
I32=$(med ideal clients 3 64 mem 12)
R1=$(med redis sequential 3 64 mem 12)
R32=$(med redis clients 3 64 mem 12)
P3=$(med rlog pipelined 3 64 mem 12)
P1=$(med rlog pipelined 1 64 mem 12)
C3=$(med rlog clients 3 64 mem 12)
A3=$(med rlog clients 3 64 fsync-always 12)
S3=$(med rlog sequential 3 64 mem 12)
S3_P50=$(med rlog sequential 3 64 mem 14)
CATCHUP=$(med rlog catchup 1 64 mem 12)
BPE=$(med rlog memory-master 2 64 mem 20)
FAILOVER=$(agg rlog failover 2 64 disk 11) # "median min max count", seconds
R_CEIL=$(ratio "$P3" "$CEIL")
R_R32=$(ratio "$C3" "$R32")
R_I32=$(ratio "$C3" "$I32")
R_I1=$(ratio "$S3" "$I1")
R_R1=$(ratio "$S3" "$R1")
R_W=$(ratio "$P3" "$P1")
R_ALWAYS=$(ratio "$A3" "$C3")
R_P50=$(ratio "$S3_P50" "$CEIL_RTT")
whole() { awk -v x="$1" -v f="${2:-1}" 'BEGIN { if (x == "") print "n/a"; else printf "%.0f", x * f }'; }
CATCHUP_N_OUT=$(whole "$CATCHUP")
BPE_OUT=$(whole "$BPE")
FAILOVER_MS=$(whole "$(awk '{ print $1 }' <<<"$FAILOVER")" 1000)
FAILOVER_MAX_MS=$(whole "$(awk '{ print $3 }' <<<"$FAILOVER")" 1000)
LINE="bench: w3_pipelined_vs_ceiling=$R_CEIL w3_32clients_vs_redis=$R_R32 w3_32clients_vs_ideal=$R_I32 w3_sequential_vs_ideal=$R_I1 w3_sequential_vs_redis=$R_R1 w3_vs_w1=$R_W always_32clients_vs_mem=$R_ALWAYS catchup_entries_per_s=$CATCHUP_N_OUT bytes_per_entry=$BPE_OUT failover_ms=$FAILOVER_MS"

met() { # VALUE OP GOAL
    awk -v v="$1" -v op="$2" -v g="$3" 'BEGIN {
        if (v == "n/a" || v == "") { print "n/a"; exit }
        ok = op == ">=" ? v + 0 >= g + 0 : v + 0 <= g + 0
        print ok ? "**yes**" : "no" }'
}

{
    echo "<!-- generated by bench/run.sh: run $RUN_ID -->"
    echo "Run \`$RUN_ID\` ($PROFILE: $RUNS runs of ${SECS} s after ${WARM} s warm-up per configuration)," \
        "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores ($(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo))," \
        "rlog $REV (at the start; binaries built by make from the working tree)," \
        "$(redis-server --version 2>/dev/null | awk '{ print $1, $3 }' || true)."
    echo "Each cell: median [min–max] over the runs; latency is per message, submit → reply."
    echo "Other processes on the machine used $OTHERS of its $(nproc) cores on average during this run."
    [ "$STORAGES" = mem ] ||
        echo "Durable rows: $DURABLE_RUNS runs each, data directories on $DATA_FS ($DATA)."
    [ -z "$QUICK_ALWAYS" ] ||
        echo "Durable row (quick profile: $CLIENTS clients w=3 64 B, --fsync always): data directories on $DATA_FS ($DATA)."
    echo
    echo "| configuration | runs | msgs/s | MB/s | p50 µs | p99 µs | p99.9 µs | errors |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|"
    tail -n +2 "$SUMMARY" | while IFS= read -r row; do
        name=${row%%\",*}
        name=${name#\"}
        IFS=, read -r sys mode w p st n tm tmin tmax mb p50 p99 p99min p99max p999 errs <<<"${row#*\",}"
        echo "| $name | $n | $(fmt "$tm") [$(fmt "$tmin")–$(fmt "$tmax")] | $(fmt "$mb") | $(fmt "$p50") | $(fmt "$p99") [$(fmt "$p99min")–$(fmt "$p99max")] | $(fmt "$p999") | $errs |"
    done
    echo
    echo "| catch-up, memory (in memory) and failover | value |"
    echo "|---|---:|"
    echo "| fill: $(fmt "$CATCHUP_N") × 64 B pipelined w=2 (entries/s) | $(fmt "$(med rlog fill 2 64 mem 12)") |"
    echo "| catch-up: empty s2 to head $(fmt "$CATCHUP_N"), entries/s | $(spread "$(agg rlog catchup 1 64 mem 12)") |"
    for node in master s1 s2; do
        for p in 64 1024; do
            row=$(awk -F, -v m="memory-$node" -v p="$p" 'NR > 1 && $3 == m && $5 == p { print; exit }' "$CSV")
            [ -n "$row" ] || continue
            IFS=, read -r _ _ _ _ _ _ _ _ _ n _ _ _ _ _ _ _ r0 r1 b <<<"$row"
            echo "| memory $node, $(fmt "$n") × $p B: bytes/entry beyond payload (RSS $(fmt "$r0") → $(fmt "$r1") KiB) | $b |"
        done
    done
    if [ -n "$FAILOVER" ]; then
        read -r fmed fmin fmax fn <<<"$FAILOVER"
        echo "| failover: kill -9 of the master → first w=2 append OK, ms (3 elected nodes on disk, default timers; $fn kills) | $(fmt "$(whole "$fmed" 1000)") [$(fmt "$(whole "$fmin" 1000)")–$(fmt "$(whole "$fmax" 1000)")] |"
        ELECTION=$(agg rlog election 2 64 disk 11)
        if [ -n "$ELECTION" ]; then
            read -r fmed fmin fmax fn <<<"$ELECTION"
            echo "| of which: kill -9 → new master elected (its log), ms | $(fmt "$(whole "$fmed" 1000)") [$(fmt "$(whole "$fmin" 1000)")–$(fmt "$(whole "$fmax" 1000)")] |"
        fi
    fi
    echo
    echo "| target (issues 12 and 13; 64 B, in memory unless said) | measured | goal | met |"
    echo "|---|---:|---:|:---:|"
    echo "| pipelined w=3 / transport ceiling | $R_CEIL | ≥ 1.0 | $(met "$R_CEIL" ">=" 1.0) |"
    echo "| $CLIENTS clients w=3 / Redis $CLIENTS clients | $R_R32 | ≥ 1.2 | $(met "$R_R32" ">=" 1.2) |"
    echo "| $CLIENTS clients w=3 / raw-libzmq ideal $CLIENTS clients | $R_I32 | ≥ 1.0 | $(met "$R_I32" ">=" 1.0) |"
    echo "| sequential w=3 / raw-libzmq ideal 1 client | $R_I1 | ≥ 1.0 | $(met "$R_I1" ">=" 1.0) |"
    echo "| sequential w=3 / Redis 1 client | $R_R1 | (information) | |"
    echo "| sequential w=3 p50 / ceiling round trip p50 | $R_P50 | (information) | |"
    echo "| pipelined w=3 / pipelined w=1 | $R_W | ≥ 0.8 | $(met "$R_W" ">=" 0.8) |"
    echo "| --fsync always $CLIENTS clients w=3 / the same in memory | $R_ALWAYS | ≥ 0.5 | $(met "$R_ALWAYS" ">=" 0.5) |"
    echo "| catch-up, entries/s | $(fmtn "$CATCHUP_N_OUT") | ≥ 1,000,000 | $(met "$CATCHUP_N_OUT" ">=" 1000000) |"
    echo "| master bytes/entry beyond payload (1,000,000 × 64 B) | $BPE_OUT | ≤ 32 | $(met "$BPE_OUT" "<=" 32) |"
    echo "| failover: kill -9 → first w=2 append, ms (median; max $(fmtn "$FAILOVER_MAX_MS")) | $(fmtn "$FAILOVER_MS") | < 5,000 | $(met "$FAILOVER_MS" "<=" 4999) |"
    [ "$REDIS" = yes ] || echo "| Redis baseline | skipped: redis-server not installed | | |"
    [ -z "$DURABLE_SKIP" ] || echo "| durable rows (--data-dir) | $DURABLE_SKIP | | |"
    [ -z "$FAILOVER_SKIP" ] || echo "| failover | skipped: $FAILOVER_SKIP | | |"
    echo
    echo "\`$LINE\`"
} >"$RESULTS"
cp "$RESULTS" "$OUT/results-$RUN_ID.md"

# The plot: throughput and p99 per configuration.
if command -v gnuplot >/dev/null; then
    PLOTDAT=$OUT/plot-$RUN_ID.dat
    tail -n +2 "$SUMMARY" | while IFS= read -r row; do
        name=${row%%\",*}
        name=${name#\"}
        IFS=, read -r sys mode w p st n tm tmin tmax mb p50 p99 p99min p99max p999 errs <<<"${row#*\",}"
        echo "\"$name\" $tm $tmin $tmax $p99 $p99min $p99max"
    done >"$PLOTDAT"
    if gnuplot -e "datafile='$PLOTDAT'; outfile='$OUT/results.png'; title='rlog bench $RUN_ID'" \
        bench/plot.gp 2>>"$LOGS/tools.log"; then
        cp "$OUT/results.png" "$OUT/results-$RUN_ID.png"
    else
        say "plot failed (see $LOGS/tools.log)"
    fi
else
    say "plot skipped: gnuplot not installed (apt-get install gnuplot-nox)"
fi

# A full run refreshes the table README embeds (between the bench markers).
if [ "$PROFILE" = full ] && [ "${BENCH_README:-1}" != 0 ] && grep -q '<!-- bench:begin -->' bench/README.md 2>/dev/null; then
    awk -v f="$RESULTS" '
        /<!-- bench:end -->/ { skip = 0 }
        !skip { print }
        /<!-- bench:begin -->/ { while ((getline l < f) > 0) print l; skip = 1 }' \
        bench/README.md >"$TMP/README.md" && cat "$TMP/README.md" >bench/README.md
fi

[ "$FAILURES" -eq 0 ] || say "$FAILURES measurement(s) failed: see $LOGS/"
say "wrote $CSV, $SUMMARY, $RESULTS$([ -f "$OUT/results.png" ] && echo ", $OUT/results.png")"
echo "$LINE"
