# rlog - build, test, sanitize, format.
#   make            rlogd, logcli, librlog.a and librlog.so in $(BUILD)/
#   make test       criterion unit + integration tests (one runner, one summary)
#   make asan       the same tests under ASan + UBSan, in build-asan/
#   make format     clang-format every C file
# V=1 shows full command lines.
#
# The tree shows the layers (see README "How it works"):
#   src/lib/   librlog: the client library and the frame codec
#   src/core/  pure logic: record format, storage engines, appends, peers,
#              follower, election, ... (no sockets, no clock)
#   src/node/  the node daemon: event loops, config, sockets, rlogd's main
#   src/cli/   logcli, one file per command
# Libraries: librlog.a and librlog.so hold the same objects (src/lib) and
# export only rlog_* symbols; librlognode.a (src/core + src/node) is
# internal to rlogd and the tests and is never installed.

BUILD   ?= build
CC      ?= cc
PKGS    := libczmq libzmq msgpack
OPT     ?= -O2
SAN     ?=
CFLAGS  := -std=c11 -Wall -Wextra -Werror $(OPT) -g -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE \
           -Iinclude -Isrc/lib -Isrc/core -Isrc/node -Isrc/cli \
           $(shell pkg-config --cflags $(PKGS)) $(SAN) -MMD -MP
LDLIBS  := $(shell pkg-config --libs $(PKGS)) -lm
TESTLIBS := $(shell pkg-config --libs criterion)

ifeq ($(V),1)
Q :=
else
Q := @
endif

LIB_SRC  := $(wildcard src/lib/*.c)
CORE_SRC := $(wildcard src/core/*.c)
NODE_SRC := $(filter-out src/node/rlogd.c,$(wildcard src/node/*.c))
CLI_SRC  := $(wildcard src/cli/*.c)
LIB_OBJ  := $(LIB_SRC:src/%.c=$(BUILD)/%.o)
CORE_OBJ := $(CORE_SRC:src/%.c=$(BUILD)/%.o)
NODE_OBJ := $(NODE_SRC:src/%.c=$(BUILD)/%.o)
CLI_OBJ  := $(CLI_SRC:src/%.c=$(BUILD)/%.o)
# What of librlog the node itself uses: the codec, the entry format, the error texts.
CODEC_OBJ := $(BUILD)/lib/proto.o $(BUILD)/lib/mpr.o $(BUILD)/lib/errors.o $(BUILD)/lib/entries.o
TESTS    := $(wildcard test/test_*.c test/unit/test_*.c)
TEST_OBJ := $(TESTS:test/%.c=$(BUILD)/test/%.o) $(BUILD)/test/harness.o

all: $(BUILD)/rlogd $(BUILD)/logcli $(BUILD)/librlog.a $(BUILD)/librlog.so

# librlog's objects are position independent (the .so takes the same ones)
# and hidden by default: only what rlog.h marks RLOG_EXPORT is visible.
$(BUILD)/lib/%.o: src/lib/%.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC    $<")
	$(Q)$(CC) $(CFLAGS) -fPIC -fvisibility=hidden -DRLOG_BUILDING -c $< -o $@

$(BUILD)/%.o: src/%.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC    $<")
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/test/%.o: test/%.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC    $<")
	$(Q)$(CC) $(CFLAGS) -Itest -DRLOG_BUILD_DIR='"$(abspath $(BUILD))"' -c $< -o $@

# One relocatable object with the hidden symbols made local: the archive
# then exports exactly what the shared library does.
$(BUILD)/librlog.a: $(LIB_OBJ)
	@$(if $(Q),echo "  AR    $@")
	$(Q)ld -r -o $(BUILD)/librlog.o $^ && objcopy --localize-hidden $(BUILD)/librlog.o && \
	  rm -f $@ && ar rcs $@ $(BUILD)/librlog.o

$(BUILD)/librlognode.a: $(CORE_OBJ) $(NODE_OBJ)
	@$(if $(Q),echo "  AR    $@")
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/rlogd: $(BUILD)/node/rlogd.o $(BUILD)/librlognode.a $(CODEC_OBJ)
	@$(if $(Q),echo "  LINK  $@")
	$(Q)$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/logcli: $(CLI_OBJ) $(BUILD)/librlog.a
	@$(if $(Q),echo "  LINK  $@")
	$(Q)$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/tests: $(TEST_OBJ) $(BUILD)/librlognode.a $(LIB_OBJ)
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

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# Feature areas keep their targets in their own files.
-include bench/bench.mk compose/compose.mk compose/swarm.mk deploy/k8s/k8s.mk test/faults.mk fuzz/fuzz.mk install.mk
