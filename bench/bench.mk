# bench/bench.mk - the benchmark suite (included by the top Makefile).
#   make bench         full suite (~15 min on 2 cores): table, CSV, plot, README table
#   make bench-quick   about 1.5 minutes: 3 short runs per configuration, failover 3 times
#   make bench-tools   only build the bench programs into $(BUILD)/bench/
#   make bench-instructions   instructions per append (callgrind), see bench/instructions.sh
# Both bench targets end with the one-line "bench: ..." summary.

BENCH_DIR    := $(BUILD)/bench
BENCH_CFLAGS := -std=c11 -Wall -Wextra -Werror -O2 -g -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE \
                -Iinclude $(shell pkg-config --cflags $(PKGS))
BENCH_LIBS   := $(shell pkg-config --libs $(PKGS)) -lm -lpthread
BENCH_PROGS  := $(BENCH_DIR)/load $(BENCH_DIR)/ceiling $(BENCH_DIR)/ideal $(BENCH_DIR)/redis_bench

$(BENCH_DIR):
	$(Q)mkdir -p $@

$(BENCH_DIR)/load: bench/load.c bench/bench_util.h $(BUILD)/librlog.a | $(BENCH_DIR)
	@$(if $(Q),echo "  CC    $<")
	$(Q)$(CC) $(BENCH_CFLAGS) $< -o $@ $(BUILD)/librlog.a $(BENCH_LIBS)

$(BENCH_DIR)/ceiling: bench/ceiling.c bench/bench_util.h | $(BENCH_DIR)
	@$(if $(Q),echo "  CC    $<")
	$(Q)$(CC) $(BENCH_CFLAGS) $< -o $@ $(BENCH_LIBS)

$(BENCH_DIR)/ideal: bench/ideal.c bench/bench_util.h | $(BENCH_DIR)
	@$(if $(Q),echo "  CC    $<")
	$(Q)$(CC) $(BENCH_CFLAGS) $< -o $@ $(BENCH_LIBS)

$(BENCH_DIR)/redis_bench: bench/redis_bench.c bench/bench_util.h | $(BENCH_DIR)
	@$(if $(Q),echo "  CC    $<")
	$(Q)$(CC) $(BENCH_CFLAGS) $< -o $@ -lpthread

bench-tools: all $(BENCH_PROGS)

bench: bench-tools
	$(Q)BUILD=$(BUILD) bench/run.sh --full

bench-quick: bench-tools
	$(Q)BUILD=$(BUILD) bench/run.sh --quick

.PHONY: bench bench-quick bench-tools

# perf profile of one configuration (default: pipelined w=3 64 B), see bench/profile.sh
bench-profile: bench-tools
	$(Q)BUILD=$(BUILD) bench/profile.sh $(PROFILE_ARGS)

# instructions per append at the master and a secondary (callgrind), see bench/instructions.sh
bench-instructions: bench-tools
	$(Q)BUILD=$(BUILD) bench/instructions.sh $(INSTRUCTIONS_ARGS)

.PHONY: bench-profile bench-instructions
