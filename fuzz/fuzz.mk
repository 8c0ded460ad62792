# fuzz/fuzz.mk - libFuzzer harnesses (included by the top Makefile).
#
#   make fuzz [FUZZ_SECONDS=60]  build with clang, run each harness N seconds
#                                on a temporary copy of its seed corpus;
#                                fails on any crash, leak, timeout or OOM
#   make fuzz-quick              the same, 20 s per harness (CI)
#   make fuzz-replay             run every seed once through each harness
#   make fuzz-build              only build $(BUILD)/fuzz/fuzz_*
#   make fuzz-corpus             regenerate the seeds in fuzz/corpus/
#   make fuzz-clean              remove $(BUILD)/fuzz
#
# FUZZ_ARGS adds libFuzzer options (e.g. FUZZ_ARGS=-jobs=2). A crash input
# lands in $(BUILD)/fuzz/artifacts/; the log of each run in $(BUILD)/fuzz/logs/.
# See fuzz/README.md.

FUZZ_CC       ?= clang
FUZZ_SECONDS  ?= 60
FUZZ_ARGS     ?=
FUZZ_BUILD    := $(BUILD)/fuzz
FUZZ_HARNESSES := fuzz_proto fuzz_recovery
# fuzz_recovery writes segment files for every input; tmpfs keeps that fast
FUZZ_TMPDIR   ?= $(shell if [ -d /dev/shm ] && [ -w /dev/shm ]; then echo /dev/shm; else echo /tmp; fi)
FUZZ_CFLAGS   := -std=c11 -Wall -Wextra -Werror -O1 -g -D_POSIX_C_SOURCE=200809L \
                 -D_DEFAULT_SOURCE -Iinclude -Isrc $(shell pkg-config --cflags msgpack) \
                 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
                 -fno-omit-frame-pointer
FUZZ_HEADERS  := $(wildcard src/*.h include/*.h)

$(FUZZ_BUILD) $(FUZZ_BUILD)/artifacts $(FUZZ_BUILD)/logs:
	$(Q)mkdir -p $@

# The v2 codec lives in src/lib: its headers first (src/ has the v1 proto.h)
FUZZ_PROTO_SRC := src/lib/proto.c src/lib/mpr.c
FUZZ_PROTO_DEPS := $(FUZZ_PROTO_SRC) src/lib/proto.h src/lib/mpr.h include/rlog.h

$(FUZZ_BUILD)/fuzz_proto: fuzz/fuzz_proto.c $(FUZZ_PROTO_DEPS) | $(FUZZ_BUILD)
	@$(if $(Q),echo "  FUZZ  $@")
	$(Q)$(FUZZ_CC) -Isrc/lib $(FUZZ_CFLAGS) fuzz/fuzz_proto.c $(FUZZ_PROTO_SRC) -o $@ \
	  $(shell pkg-config --libs msgpack)

# Recovery is the store of src/core: its headers first (src/ has the old store.h)
FUZZ_RECOVERY_SRC  := src/lib/entries.c $(addprefix src/core/,store.c store_mem.c store_disk.c segment.c \
                        recovery.c fsdir.c record.c epochs.c grow.c crc32c.c)
FUZZ_RECOVERY_DEPS := $(FUZZ_RECOVERY_SRC) $(wildcard src/core/*.h)

$(FUZZ_BUILD)/fuzz_recovery: fuzz/fuzz_recovery.c $(FUZZ_RECOVERY_DEPS) | $(FUZZ_BUILD)
	@$(if $(Q),echo "  FUZZ  $@")
	$(Q)$(FUZZ_CC) -Isrc/core -Isrc/lib $(FUZZ_CFLAGS) fuzz/fuzz_recovery.c $(FUZZ_RECOVERY_SRC) -o $@

fuzz-build: $(FUZZ_HARNESSES:%=$(FUZZ_BUILD)/%)

# One harness after the other, each on a fresh copy of its seeds (the repo
# corpus never grows), $(1) seconds each. On failure: the tail of the log,
# the artifact, and how to replay it.
define FUZZ_RUN
	@for h in $(FUZZ_HARNESSES); do \
	  work=$$(mktemp -d "$${TMPDIR:-/tmp}/rlog-fuzz-$$h.XXXXXX") || exit 1; \
	  cp fuzz/corpus/$$h/* "$$work"/ || { rm -rf "$$work"; exit 1; }; \
	  log=$(FUZZ_BUILD)/logs/$$h.log; \
	  echo "fuzz: $$h for $(1) s on $$(ls "$$work" | wc -l) seeds (log: $$log)"; \
	  RLOG_FUZZ_DIR=$(FUZZ_TMPDIR) $(FUZZ_BUILD)/$$h -max_total_time=$(1) \
	    -timeout=20 -rss_limit_mb=2048 -dict=fuzz/$$h.dict -print_final_stats=1 \
	    -artifact_prefix=$(FUZZ_BUILD)/artifacts/$$h- $(FUZZ_ARGS) "$$work" >"$$log" 2>&1; \
	  rc=$$?; \
	  corpus=$$(ls "$$work" | wc -l); rm -rf "$$work"; \
	  if [ $$rc -ne 0 ]; then \
	    tail -n 60 "$$log"; \
	    echo "fuzz: $$h FAILED (exit $$rc); artifacts in $(FUZZ_BUILD)/artifacts/"; \
	    echo "fuzz: replay with $(FUZZ_BUILD)/$$h ARTIFACT; fuzz/to_c.py ARTIFACT for a test"; \
	    exit 1; \
	  fi; \
	  runs=$$(sed -n 's/^stat::number_of_executed_units: *//p' "$$log"); \
	  cov=$$(grep -o 'cov: [0-9]* ft: [0-9]*' "$$log" | tail -n 1); \
	  echo "fuzz: $$h OK: $$runs runs, $$cov, corpus $$corpus inputs, no crash"; \
	done
endef

fuzz: fuzz-build | $(FUZZ_BUILD)/artifacts $(FUZZ_BUILD)/logs
	$(call FUZZ_RUN,$(FUZZ_SECONDS))

fuzz-quick: fuzz-build | $(FUZZ_BUILD)/artifacts $(FUZZ_BUILD)/logs
	$(call FUZZ_RUN,20)

# Every seed once (no mutation): a quick check that the corpus still runs.
fuzz-replay: fuzz-build | $(FUZZ_BUILD)/artifacts $(FUZZ_BUILD)/logs
	@for h in $(FUZZ_HARNESSES); do \
	  log=$(FUZZ_BUILD)/logs/$$h-replay.log; \
	  RLOG_FUZZ_DIR=$(FUZZ_TMPDIR) $(FUZZ_BUILD)/$$h -runs=0 \
	    -artifact_prefix=$(FUZZ_BUILD)/artifacts/$$h- fuzz/corpus/$$h >"$$log" 2>&1 \
	    || { tail -n 60 "$$log"; echo "fuzz-replay: $$h FAILED"; exit 1; }; \
	  echo "fuzz-replay: $$h OK: $$(grep -o 'INITED.*' "$$log" | tail -n 1)"; \
	done

$(FUZZ_BUILD)/gen_corpus: fuzz/gen_corpus.c $(FUZZ_RECOVERY_DEPS) | $(FUZZ_BUILD)
	@$(if $(Q),echo "  LINK  $@")
	$(Q)$(CC) -Isrc/core -Isrc/lib $(CFLAGS) fuzz/gen_corpus.c $(FUZZ_RECOVERY_SRC) -o $@

$(FUZZ_BUILD)/gen_corpus_proto: fuzz/gen_corpus_proto.c $(FUZZ_PROTO_DEPS) | $(FUZZ_BUILD)
	@$(if $(Q),echo "  LINK  $@")
	$(Q)$(CC) -Isrc/lib $(CFLAGS) fuzz/gen_corpus_proto.c $(FUZZ_PROTO_SRC) -o $@ $(LDLIBS)

fuzz-corpus: $(FUZZ_BUILD)/gen_corpus $(FUZZ_BUILD)/gen_corpus_proto
	$(FUZZ_BUILD)/gen_corpus fuzz/corpus
	$(FUZZ_BUILD)/gen_corpus_proto fuzz/corpus

fuzz-clean:
	rm -rf $(FUZZ_BUILD)

.PHONY: fuzz fuzz-quick fuzz-replay fuzz-build fuzz-corpus fuzz-clean
