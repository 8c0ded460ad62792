# rlog - build, test, sanitize, format.
#   make            rlogd, logcli, librlog.a in $(BUILD)/
#   make test       criterion unit + integration tests (one runner, one summary)
#   make asan       the same tests under ASan + UBSan, in build-asan/
#   make format     clang-format every C file
# V=1 shows full command lines.

BUILD   ?= build
CC      ?= cc
PKGS    := libczmq libzmq msgpack
OPT     ?= -O2
SAN     ?=
CFLAGS  := -std=c11 -Wall -Wextra -Werror $(OPT) -g -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE \
           -Iinclude -Isrc $(shell pkg-config --cflags $(PKGS)) $(SAN) -MMD -MP
LDLIBS  := $(shell pkg-config --libs $(PKGS)) -lm
TESTLIBS := $(shell pkg-config --libs criterion)

ifeq ($(V),1)
Q :=
else
Q := @
endif

# Pure logic and codec (no sockets), the client library, the node roles.
CORE    := proto store disklog crc32c dedup holdback waiters health backoff log quota security
LIBSRC  := $(CORE) client
NODESRC := master secondary config wire epoch
CORE_OBJ := $(LIBSRC:%=$(BUILD)/%.o)
NODE_OBJ := $(NODESRC:%=$(BUILD)/%.o)
TESTS   := $(wildcard test/test_*.c)
TEST_OBJ := $(TESTS:test/%.c=$(BUILD)/test/%.o) $(BUILD)/test/harness.o

all: $(BUILD)/rlogd $(BUILD)/logcli $(BUILD)/librlog.a

$(BUILD)/%.o: src/%.c | $(BUILD)
	@$(if $(Q),echo "  CC    $<")
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/test/%.o: test/%.c | $(BUILD)/test
	@$(if $(Q),echo "  CC    $<")
	$(Q)$(CC) $(CFLAGS) -DRLOG_BUILD_DIR='"$(abspath $(BUILD))"' -c $< -o $@

$(BUILD) $(BUILD)/test:
	$(Q)mkdir -p $@

$(BUILD)/librlog.a: $(CORE_OBJ)
	@$(if $(Q),echo "  AR    $@")
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/rlogd: $(BUILD)/rlogd.o $(NODE_OBJ) $(BUILD)/librlog.a
	@$(if $(Q),echo "  LINK  $@")
	$(Q)$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/logcli: $(BUILD)/logcli.o $(BUILD)/librlog.a
	@$(if $(Q),echo "  LINK  $@")
	$(Q)$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/tests: $(TEST_OBJ) $(NODE_OBJ) $(BUILD)/librlog.a
	@$(if $(Q),echo "  LINK  $@")
	$(Q)$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS) $(TESTLIBS)

# Criterion prints one "Synthesis" line for the whole run; it exits non-zero
# on any failure. Integration tests start $(BUILD)/rlogd and $(BUILD)/logcli.
test: all $(BUILD)/tests
	LSAN_OPTIONS=suppressions=$(abspath test/lsan.supp) $(BUILD)/tests $(TEST_ARGS)

asan:
	$(MAKE) BUILD=build-asan OPT=-O1 \
	  SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" test

format:
	clang-format -i $(shell git ls-files "*.c" "*.h")

clean:
	rm -rf build build-asan

.PHONY: all test asan format clean

-include $(wildcard $(BUILD)/*.d $(BUILD)/test/*.d)

# Feature areas keep their targets in their own files.
-include bench/bench.mk compose/compose.mk compose/swarm.mk deploy/k8s/k8s.mk test/faults.mk fuzz/fuzz.mk install.mk
