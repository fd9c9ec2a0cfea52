# uplink — GNU make + pkg-config.
#
#   make            build lib/libuplink.a and the programs into build/
#   make SAN=1      the same with AddressSanitizer + UBSan, into build-san/
#   make test       install missing dependencies, build, run every test
#   make demo       the README's main command
#   make fuzz       run every libFuzzer target for a bounded time
#   make bench      benchmarks

SAN	?= 0
ifeq ($(SAN),1)
BUILD	?= build-san
SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
OPT	?= -O1 -g
else
BUILD	?= build
SANFLAGS :=
OPT	?= -O2 -g
endif

CC	?= cc
PKGS	:= openssl libevent_core libevent_extra libevent_openssl libnghttp2 \
	   sqlite3 jansson libsodium inih libsystemd libpq
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CMOCKA_LIBS := $(shell pkg-config --libs cmocka 2>/dev/null)

WARN	:= -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
	   -Wmissing-prototypes -Wpointer-arith -Wformat=2 -Wvla -Wundef \
	   -Wimplicit-fallthrough -Wcast-align -Wwrite-strings -Wold-style-definition \
	   -Wno-format-truncation
ALL_CFLAGS = -std=c17 -D_GNU_SOURCE -pthread $(WARN) $(OPT) $(SANFLAGS) $(PKG_CFLAGS) \
	     $(LIB_INC) -MMD -MP $(CFLAGS)
ALL_LDFLAGS = -pthread -Wl,--as-needed $(SANFLAGS) $(LDFLAGS)

# lib/ has one folder per concern (docs/internals/layout.md); each folder is
# on the include path so #include "name.h" finds a header wherever it
# lives (a folder may have subfolders, as a backend's). Flat lib/*.c files
# still build (new files land there first).
LIB_DIRS := $(sort $(patsubst %/,%,$(dir $(wildcard lib/*/*.h lib/*/*.c \
	    lib/*/*/*.h lib/*/*/*.c))))
LIB_INC	 := -Ilib $(addprefix -I,$(LIB_DIRS))
LIB_SRC	 := $(sort $(wildcard lib/*.c lib/*/*.c lib/*/*/*.c))
LIB_OBJ	 := $(LIB_SRC:%.c=$(BUILD)/%.o)
TLIB_OBJ := $(LIB_SRC:lib/%.c=$(BUILD)/tlib/%.o)
CONN_SRC := $(sort $(wildcard connector/*.c))
CONN_OBJ := $(CONN_SRC:%.c=$(BUILD)/%.o)
CLOUD_SRC := $(sort $(wildcard cloud/*.c))
CLOUD_OBJ := $(CLOUD_SRC:%.c=$(BUILD)/%.o)
# The web console's files, compiled into uplink-cloud (scripts/embed-assets).
CONSOLE_FILES := $(sort $(shell find cloud/console -type f ! -name '.*'))
CONSOLE_OBJ := $(BUILD)/gen/console_assets.o
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

PROGS	:= $(BUILD)/uplink-connector
ifneq ($(CLOUD_SRC),)
PROGS	+= $(BUILD)/uplink-cloud
endif

.PHONY: all test unit demo fuzz fuzz-replay bench clean deps checksrc
all: $(PROGS) $(UNIT_BIN)

$(BUILD)/libuplink.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

# The unit-test copy of the library exports UNITTEST helpers.
$(BUILD)/libuplink-test.a: $(TLIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/tlib/%.o: lib/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -DUPLINK_UNITTEST -c -o $@ $<

$(BUILD)/uplink-connector: $(CONN_OBJ) $(BUILD)/libuplink.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS)

# The password strength estimator (cloud/rest_admin.c): Debian's
# libzxcvbn-dev ships no .pc file, so it is linked by name.
ZXCVBN_LIBS := -lzxcvbn

$(BUILD)/uplink-cloud: $(CLOUD_OBJ) $(CONSOLE_OBJ) $(BUILD)/libuplink.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS) $(ZXCVBN_LIBS)

$(BUILD)/gen/console_assets.c: $(CONSOLE_FILES) scripts/embed-assets
	@mkdir -p $(dir $@)
	scripts/embed-assets $@ $(CONSOLE_FILES)

$(CONSOLE_OBJ): $(BUILD)/gen/console_assets.c cloud/console.h
	$(CC) $(ALL_CFLAGS) -Icloud -c -o $@ $<

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libuplink-test.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -DUPLINK_UNITTEST -Wno-missing-prototypes -o $@ $< \
	    $(BUILD)/libuplink-test.a $(ALL_LDFLAGS) $(PKG_LIBS) $(CMOCKA_LIBS)

deps:
	@scripts/install-deps

checksrc:
	@scripts/checksrc

# Everything: dependencies, checksrc, unit + integration tests, the same again
# under ASan/UBSan, and the fuzz corpora replayed. Ends with "N passed, N failed".
test: deps
	@scripts/run-tests

unit: all
	@for t in $(UNIT_BIN); do $$t || exit 1; done

demo: deps
	@scripts/demo

fuzz: deps
	@scripts/fuzz run

fuzz-replay:
	@scripts/fuzz replay

# The load tool of the benchmarks (bench/): not part of "all"; scripts/bench
# and bench/run build it with the daemons they measure.
BENCH_SRC := $(sort $(wildcard bench/*.c))
BENCH_OBJ := $(BENCH_SRC:%.c=$(BUILD)/%.o)

$(BUILD)/bench/uplink-bench: $(BENCH_OBJ) $(BUILD)/libuplink.a
	$(CC) $(ALL_LDFLAGS) -pthread -o $@ $^ $(PKG_LIBS) -lpthread

-include $(BENCH_OBJ:.o=.d)

bench: deps
	@scripts/bench

clean:
	rm -rf build build-san build-fuzz

-include $(LIB_OBJ:.o=.d) $(TLIB_OBJ:.o=.d) $(CONN_OBJ:.o=.d) $(CLOUD_OBJ:.o=.d)

# ---- Installing and packaging (docs/install.md) ----
#
#   make install [PREFIX=/usr/local] [DESTDIR=]   programs, manual pages,
#       systemd units, sysusers.d entries and the documentation
#   make deb     the Debian packages uplink-connector and uplink-cloud,
#       built with dpkg-buildpackage in a copy of the tree, into build/deb/

PREFIX	?= /usr/local
BINDIR	?= $(PREFIX)/bin
MANDIR	?= $(PREFIX)/share/man
DOCDIR	?= $(PREFIX)/share/doc/uplink
UNITDIR	?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
INSTALL	?= install
UNITS	:= $(wildcard packaging/systemd/*.service)
MANPAGES := man/uplink-connector.8 man/uplink-cloud.8 man/connector.conf.5 \
	    man/cloud.conf.5
INSTALL_DOCS := $(wildcard docs/*.md) docs/grafana-dashboard.json

.PHONY: install deb
install: $(PROGS)
	$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man5 \
	    $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(DOCDIR)
	$(INSTALL) -m 0755 $(PROGS) $(DESTDIR)$(BINDIR)/
	$(INSTALL) -m 0644 $(filter %.8,$(MANPAGES)) $(DESTDIR)$(MANDIR)/man8/
	$(INSTALL) -m 0644 $(filter %.5,$(MANPAGES)) $(DESTDIR)$(MANDIR)/man5/
	$(INSTALL) -m 0644 $(INSTALL_DOCS) $(DESTDIR)$(DOCDIR)/
	@# The units name /usr/bin; another BINDIR is written into them.
	$(INSTALL) -d $(DESTDIR)$(UNITDIR)
	for u in $(UNITS); do \
	    sed 's|/usr/bin/|$(BINDIR)/|' $$u > $(DESTDIR)$(UNITDIR)/$${u##*/} && \
	    chmod 0644 $(DESTDIR)$(UNITDIR)/$${u##*/} || exit 1; done
	@# SYSUSERSDIR= (empty) leaves them out: debian/ installs its own.
	if [ -n "$(SYSUSERSDIR)" ]; then \
	    $(INSTALL) -d $(DESTDIR)$(SYSUSERSDIR) && \
	    $(INSTALL) -m 0644 packaging/sysusers/*.conf $(DESTDIR)$(SYSUSERSDIR)/; fi

# dpkg-buildpackage writes its results into the parent of the tree it
# builds, so it builds a copy (tracked and modified files, no build
# outputs) in a temporary directory and the packages are moved to DEBDIR.
DEBDIR	?= build/deb
deb:
	@set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	mkdir "$$tmp/uplink"; \
	git ls-files -co --exclude-standard -z | \
	    xargs -0 cp -a --parents -t "$$tmp/uplink"; \
	rm -rf "$$tmp/uplink/build" "$$tmp/uplink/build-san"; \
	(cd "$$tmp/uplink" && dpkg-buildpackage -us -uc -b >../build.log 2>&1) || \
	    { tail -40 "$$tmp/build.log"; exit 1; }; \
	mkdir -p $(DEBDIR); \
	mv "$$tmp"/*.deb "$$tmp"/*.buildinfo "$$tmp"/*.changes $(DEBDIR)/; \
	cp "$$tmp/build.log" $(DEBDIR)/; \
	ls $(DEBDIR)/*.deb
