# install.mk - shared library, examples and installation (included by the top Makefile).
#   make shared                      $(BUILD)/librlog.so (the same objects as librlog.a)
#   make examples                    $(BUILD)/examples/append_and_list
#   make install PREFIX=/usr/local   rlogd, logcli, librlog.a, librlog.so, rlog.h, rlog.pc,
#                                    logcli(1), rlogd(8); DESTDIR=... stages for packaging
#   make uninstall PREFIX=...        removes exactly those files
# Run ldconfig after installing to a system library directory.

PREFIX       ?= /usr/local
DESTDIR      ?=
BINDIR       ?= $(PREFIX)/bin
LIBDIR       ?= $(PREFIX)/lib
INCLUDEDIR   ?= $(PREFIX)/include
MANDIR       ?= $(PREFIX)/share/man
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig

# One version, the header's: 0.1.0 -> librlog.so.0.1.0, soname librlog.so.0.
RLOG_VERSION := $(shell awk '/define RLOG_VERSION_(MAJOR|MINOR|PATCH)/ {print $$3}' include/rlog.h | paste -sd. -)
RLOG_MAJOR   := $(firstword $(subst ., ,$(RLOG_VERSION)))
SONAME       := librlog.so.$(RLOG_MAJOR)

# The library's objects are already position independent and hidden by
# default (the top Makefile); the version script is a second belt: only
# rlog_* leaves the library.
SHLIB   := $(BUILD)/librlog.so.$(RLOG_VERSION)

$(BUILD)/examples:
	$(Q)mkdir -p $@

$(BUILD)/librlog.map:
	$(Q)mkdir -p $(BUILD) && printf '{\n  global: rlog_*;\n  local: *;\n};\n' > $@

$(SHLIB): $(LIB_OBJ) $(BUILD)/librlog.map
	@$(if $(Q),echo "  LINK  $@")
	$(Q)$(CC) $(CFLAGS) -shared -Wl,-soname,$(SONAME) \
	  -Wl,--version-script=$(BUILD)/librlog.map $(if $(SAN),,-Wl,--no-undefined) \
	  $(LIB_OBJ) -o $@ $(LDLIBS)

$(BUILD)/librlog.so: $(SHLIB)
	$(Q)ln -sf $(notdir $(SHLIB)) $(BUILD)/$(SONAME)
	$(Q)ln -sf $(SONAME) $@

shared: $(BUILD)/librlog.so

$(BUILD)/examples/%: examples/%.c include/rlog.h $(BUILD)/librlog.a | $(BUILD)/examples
	@$(if $(Q),echo "  CC    $<")
	$(Q)$(CC) $(CFLAGS) $< $(BUILD)/librlog.a -o $@ $(LDLIBS)

examples: $(patsubst examples/%.c,$(BUILD)/examples/%,$(wildcard examples/*.c))

install: all $(BUILD)/librlog.so rlog.pc.in man/logcli.1 man/rlogd.8
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR) \
	  $(DESTDIR)$(PKGCONFIGDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man8
	install -m 755 $(BUILD)/rlogd $(BUILD)/logcli $(DESTDIR)$(BINDIR)/
	install -m 644 $(BUILD)/librlog.a $(DESTDIR)$(LIBDIR)/
	install -m 755 $(SHLIB) $(DESTDIR)$(LIBDIR)/
	ln -sf $(notdir $(SHLIB)) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/librlog.so
	install -m 644 include/rlog.h $(DESTDIR)$(INCLUDEDIR)/
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
	  -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' -e 's|@VERSION@|$(RLOG_VERSION)|' \
	  rlog.pc.in > $(DESTDIR)$(PKGCONFIGDIR)/rlog.pc
	chmod 644 $(DESTDIR)$(PKGCONFIGDIR)/rlog.pc
	install -m 644 man/logcli.1 $(DESTDIR)$(MANDIR)/man1/
	install -m 644 man/rlogd.8 $(DESTDIR)$(MANDIR)/man8/

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/rlogd $(DESTDIR)$(BINDIR)/logcli \
	  $(DESTDIR)$(LIBDIR)/librlog.a $(DESTDIR)$(LIBDIR)/$(notdir $(SHLIB)) \
	  $(DESTDIR)$(LIBDIR)/$(SONAME) $(DESTDIR)$(LIBDIR)/librlog.so \
	  $(DESTDIR)$(INCLUDEDIR)/rlog.h $(DESTDIR)$(PKGCONFIGDIR)/rlog.pc \
	  $(DESTDIR)$(MANDIR)/man1/logcli.1 $(DESTDIR)$(MANDIR)/man8/rlogd.8

.PHONY: shared examples install uninstall

-include $(wildcard $(BUILD)/examples/*.d)
