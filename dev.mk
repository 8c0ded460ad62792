# dev.mk - TEMPORARY build of the new tree (src/lib, src/core) and its unit
# tests (test/unit/test_*.c), while the redesign is in progress. Replaced by
# the top Makefile at switch-over.
#   make -f dev.mk            build every unit test binary into build-dev/unit/
#   make -f dev.mk test       run them all (criterion), one binary per file
#   make -f dev.mk T=store    build and run only test/unit/test_store.c
#   make -f dev.mk asan ...   the same under ASan + UBSan, in build-dev-asan/
# Rules: a file under src/lib or src/core must always compile (keep work in
# progress elsewhere); each test binary links the archive of all objects.

DEV     ?= build-dev
CC      ?= cc
PKGS    := libczmq libzmq msgpack
OPT     ?= -O1
SAN     ?=
CFLAGS  := -std=c11 -Wall -Wextra -Werror $(OPT) -g -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE \
           -Iinclude -Isrc/lib -Isrc/core $(shell pkg-config --cflags $(PKGS)) $(SAN) -MMD -MP
LDLIBS  := $(shell pkg-config --libs $(PKGS)) $(shell pkg-config --libs criterion) -lm

SRC     := $(wildcard src/lib/*.c src/core/*.c)
OBJ     := $(SRC:src/%.c=$(DEV)/obj/%.o)
TESTS   := $(if $(T),test/unit/test_$(T).c,$(wildcard test/unit/test_*.c))
BINS    := $(TESTS:test/unit/%.c=$(DEV)/unit/%)

all: $(BINS)

$(DEV)/obj/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(DEV)/libdev.a: $(OBJ)
	@rm -f $@ && ar rcs $@ $^

$(DEV)/unit/%: test/unit/%.c $(DEV)/libdev.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $< -o $@ $(DEV)/libdev.a $(LDLIBS)

test: $(BINS)
	@fail=0; for b in $(BINS); do echo "== $$b"; $$b --jobs 2 || fail=1; done; exit $$fail

asan:
	$(MAKE) -f dev.mk DEV=build-dev-asan \
	  SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
	  $(if $(T),T=$(T)) test

.PHONY: all test asan
-include $(wildcard $(DEV)/obj/*/*.d $(DEV)/unit/*.d)
