# escalator - build, test and install.
#
#   make            the library (build/libescalator.a, .so) and build/escalator
#   make run        installs missing Debian packages, builds, starts `escalator serve`
#                   on http://127.0.0.1:8080 with the demo tickets (Ctrl-C stops it)
#   make triage-examples  builds, triages each ticket of examples/tickets/
#   make test       installs missing Debian packages, then the ASan+UBSan build
#                   and every test: unit, CLI, policy cases, docs, the server's
#                   scenarios, short fuzz runs
#   make fuzz       longer fuzz runs (FUZZ_SECONDS=300 each)
#   make bench      the benchmarks of BENCHMARKS.md (bench/run.sh)
#   make install    PREFIX=/usr/local DESTDIR=
#   make clean

PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
LIBDIR     ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
DATADIR    ?= $(PREFIX)/share
DESTDIR    ?=

CLANG        ?= clang
PKG_CONFIG   ?= pkg-config
CFLAGS       ?= -O2 -g
FUZZ_SECONDS ?= 300

# What `make run` shows.
RUN_POLICY ?= policies/meow-mobile.yaml
RUN_NOW    ?= 2026-11-23T12:00:00Z
RUN_FLAGS  ?= --explain
RUN_PORT   ?= 8080
RUN_DB     ?= $(B)/run/escalator.db
RUN_TOKENS ?= admin:demo-admin-token,agent:demo-agent-token,viewer:demo-viewer-token,bot:demo-bot-token

B := build

VERSION := $(shell sed -n 's/^\#define ESC_VERSION_STRING "\(.*\)"/\1/p' include/escalator.h)
SOMAJOR := $(shell sed -n 's/^\#define ESC_VERSION_MAJOR \([0-9]*\).*/\1/p' include/escalator.h)

# pkg-config runs once, when a recipe first needs it: `make test` and
# `make run` install pkg-config itself before that happens.
PKGS      := libfyaml jansson libutf8proc libhs icu-i18n icu-uc
TEST_PKGS := cmocka
SERVER_PKGS := libmicrohttpd sqlite3 libcurl libcrypto
lazy = $(eval $1 := $$(shell $2))$($1)
PKG_CFLAGS  = $(call lazy,PKG_CFLAGS,$(PKG_CONFIG) --cflags $(PKGS))
PKG_LIBS    = $(call lazy,PKG_LIBS,$(PKG_CONFIG) --libs $(PKGS))
TEST_CFLAGS = $(call lazy,TEST_CFLAGS,$(PKG_CONFIG) --cflags $(TEST_PKGS))
TEST_LIBS   = $(call lazy,TEST_LIBS,$(PKG_CONFIG) --libs $(TEST_PKGS))
LIBS        = $(PKG_LIBS) -lstemmer -lstdc++ -lm -lpthread
SERVER_CFLAGS = $(call lazy,SERVER_CFLAGS,$(PKG_CONFIG) --cflags $(SERVER_PKGS))
SERVER_LIBS   = $(call lazy,SERVER_LIBS,$(PKG_CONFIG) --libs $(SERVER_PKGS))

ESC_CFLAGS := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow \
              -Wstrict-prototypes -Wmissing-prototypes -fvisibility=hidden -fPIC \
              -Iinclude -Isrc/core
DEPFLAGS   := -MMD -MP
SAN        := -fsanitize=address,undefined -fno-sanitize-recover=all \
              -fno-omit-frame-pointer
ASAN_CFLAGS := -O1 -g $(SAN)
FUZZ_CFLAGS := -O1 -g -fsanitize=fuzzer-no-link,address,undefined \
               -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_LDFLAGS := -fsanitize=fuzzer,address,undefined

LIB_SRCS   := $(wildcard src/core/*.c)
CLI_SRCS   := $(wildcard src/cli/*.c)
# The service (store back ends, HTTP server, notification delivery) links
# into the escalator binary only, never into the library.
SERVER_SRCS := $(wildcard src/store/*.c src/server/*.c src/notify/*.c)
UNIT_SRCS  := $(wildcard tests/unit/test_*.c)
FUZZ_SRCS  := $(wildcard tests/fuzz/fuzz_*.c)

# Three builds side by side: optimised (build/), sanitised (build/asan/),
# libFuzzer with clang (build/fuzz/).
LIB_OBJS      := $(LIB_SRCS:%.c=$(B)/obj/%.o)
CLI_OBJS      := $(CLI_SRCS:%.c=$(B)/obj/%.o) $(SERVER_SRCS:%.c=$(B)/obj/%.o)
ASAN_LIB_OBJS := $(LIB_SRCS:%.c=$(B)/asan/obj/%.o)
ASAN_SERVER_OBJS := $(SERVER_SRCS:%.c=$(B)/asan/obj/%.o)
ASAN_CLI_OBJS := $(CLI_SRCS:%.c=$(B)/asan/obj/%.o) $(ASAN_SERVER_OBJS)
UNIT_BINS     := $(UNIT_SRCS:tests/unit/%.c=$(B)/asan/tests/unit/%)
SERVER_UNIT_BINS := $(B)/asan/tests/unit/test_server $(B)/asan/tests/unit/test_notify
CORE_UNIT_BINS := $(filter-out $(SERVER_UNIT_BINS),$(UNIT_BINS))
# The test peers of the notification scenarios: an HTTP receiver that
# records, fails, stalls or drops on request, and a signer.
PEER_BIN      := $(B)/asan/tests/notify/peer
FUZZ_LIB_OBJS := $(LIB_SRCS:%.c=$(B)/fuzz/obj/%.o)
FUZZ_BINS     := $(FUZZ_SRCS:tests/fuzz/%.c=$(B)/fuzz/%)
CORE_FUZZ_BINS := $(filter-out $(B)/fuzz/fuzz_api,$(FUZZ_BINS))
FUZZ_SERVER_OBJS := $(SERVER_SRCS:%.c=$(B)/fuzz/obj/%.o)

ALL_OBJS := $(LIB_OBJS) $(CLI_OBJS) $(ASAN_LIB_OBJS) $(ASAN_CLI_OBJS) \
            $(UNIT_SRCS:%.c=$(B)/asan/obj/%.o) $(FUZZ_LIB_OBJS) \
            $(FUZZ_SRCS:%.c=$(B)/fuzz/obj/%.o) $(FUZZ_SERVER_OBJS) \
            $(B)/asan/obj/tests/notify/peer.o $(B)/obj/tests/notify/peer.o

.PHONY: all deps bench-deps run triage-examples test asan fuzz-build fuzz bench install uninstall clean help
.DELETE_ON_ERROR:
.SECONDARY: $(ALL_OBJS)

all: $(B)/libescalator.a $(B)/libescalator.so $(B)/escalator

# The benchmarks of BENCHMARKS.md (never part of `make test`):
# BENCH_TICKETS=20000 for a quick try.
bench: bench-deps all
	bench/run.sh

# The packages of `make deps` and those of the benchmarks (nginx, wrk, node).
bench-deps:
	@scripts/deps.sh bench

help:
	@sed -n 's/^#   //p' Makefile

deps:
	@scripts/deps.sh

# ---- the optimised build --------------------------------------------------

$(B)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(ESC_CFLAGS) $(PKG_CFLAGS) $(SERVER_CFLAGS) $(CPPFLAGS) $(CFLAGS) $(DEPFLAGS) -c $< -o $@

$(B)/libescalator.a: $(LIB_OBJS)
	@rm -f $@
	$(AR) rcs $@ $^

$(B)/libescalator.so: $(LIB_OBJS)
	$(CC) -shared -Wl,-soname,libescalator.so.$(SOMAJOR) -Wl,--no-undefined \
	    $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS)

$(B)/escalator: $(CLI_OBJS) $(B)/libescalator.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(CLI_OBJS) $(B)/libescalator.a $(SERVER_LIBS) $(LIBS)

# ---- the sanitised build: library, binary and unit tests ------------------

asan: $(B)/asan/libescalator.a $(B)/asan/escalator $(UNIT_BINS) $(PEER_BIN)

$(B)/asan/obj/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(ESC_CFLAGS) $(PKG_CFLAGS) $(SERVER_CFLAGS) $(TEST_CFLAGS) $(ASAN_CFLAGS) $(DEPFLAGS) -c $< -o $@

$(B)/asan/libescalator.a: $(ASAN_LIB_OBJS)
	@rm -f $@
	$(AR) rcs $@ $^

$(B)/asan/escalator: $(ASAN_CLI_OBJS) $(B)/asan/libescalator.a
	$(CC) $(ASAN_CFLAGS) -o $@ $(ASAN_CLI_OBJS) $(B)/asan/libescalator.a $(SERVER_LIBS) $(LIBS)

$(CORE_UNIT_BINS): $(B)/asan/tests/unit/%: $(B)/asan/obj/tests/unit/%.o $(B)/asan/libescalator.a
	@mkdir -p $(@D)
	$(CC) $(ASAN_CFLAGS) -o $@ $< $(B)/asan/libescalator.a $(TEST_LIBS) $(LIBS)

# The service's unit tests link its objects too.
$(SERVER_UNIT_BINS): $(B)/asan/tests/unit/%: $(B)/asan/obj/tests/unit/%.o \
                                  $(ASAN_SERVER_OBJS) $(B)/asan/libescalator.a
	@mkdir -p $(@D)
	$(CC) $(ASAN_CFLAGS) -o $@ $< $(ASAN_SERVER_OBJS) $(B)/asan/libescalator.a \
	    $(TEST_LIBS) $(SERVER_LIBS) $(LIBS)

$(PEER_BIN): $(B)/asan/obj/tests/notify/peer.o $(B)/asan/obj/src/notify/sign.o
	@mkdir -p $(@D)
	$(CC) $(ASAN_CFLAGS) -o $@ $^ $(SERVER_LIBS) $(LIBS)

# ---- fuzz targets (clang and its libFuzzer runtime) -----------------------

# "yes" when clang can link a libFuzzer target here.
FUZZ_PROBE := mkdir -p $(B) && echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { (void)d; (void)n; return 0; }' \
    | $(CLANG) -x c -fsanitize=fuzzer -o $(B)/.fuzz-probe - >/dev/null 2>&1 && echo yes; rm -f $(B)/.fuzz-probe
FUZZ_OK = $(call lazy,FUZZ_OK,$(FUZZ_PROBE))

fuzz-build:
	@if [ "$(FUZZ_OK)" != yes ]; then \
	    echo "note: clang's libFuzzer runtime is not available: fuzz targets not built"; \
	elif [ -n "$(FUZZ_BINS)" ]; then \
	    $(MAKE) --no-print-directory $(FUZZ_BINS); \
	fi

$(B)/fuzz/obj/%.o: %.c
	@mkdir -p $(@D)
	$(CLANG) $(ESC_CFLAGS) $(PKG_CFLAGS) $(SERVER_CFLAGS) $(FUZZ_CFLAGS) $(DEPFLAGS) -c $< -o $@

$(B)/fuzz/libescalator.a: $(FUZZ_LIB_OBJS)
	@rm -f $@
	$(AR) rcs $@ $^

$(CORE_FUZZ_BINS): $(B)/fuzz/%: $(B)/fuzz/obj/tests/fuzz/%.o $(B)/fuzz/libescalator.a
	$(CLANG) $(FUZZ_LDFLAGS) -o $@ $< $(B)/fuzz/libescalator.a $(LIBS)

# The API target runs a whole service: it links the server objects too.
$(B)/fuzz/fuzz_api: $(B)/fuzz/obj/tests/fuzz/fuzz_api.o $(FUZZ_SERVER_OBJS) \
                    $(B)/fuzz/libescalator.a
	$(CLANG) $(FUZZ_LDFLAGS) -o $@ $< $(FUZZ_SERVER_OBJS) $(B)/fuzz/libescalator.a \
	    $(SERVER_LIBS) $(LIBS)

# ---- what people run --------------------------------------------------------

# The demo's notifications go to a local receiver (the recording HTTP peer of
# the tests) that appends each one to $(RUN_INBOX); examples/demo-routes.json
# routes every channel there.
RUN_INBOX ?= $(dir $(RUN_DB))notifications.jsonl

$(B)/demo-receiver: $(B)/obj/tests/notify/peer.o $(B)/obj/src/notify/sign.o
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(SERVER_LIBS) $(LIBS)

run: deps
	@$(MAKE) --no-print-directory all $(B)/demo-receiver
	@mkdir -p $(dir $(RUN_DB))
	@rm -f $(dir $(RUN_DB))receiver.port
	@$(B)/demo-receiver serve --port-file $(dir $(RUN_DB))receiver.port --log $(RUN_INBOX) & \
	receiver=$$!; trap 'kill $$receiver 2>/dev/null' EXIT INT TERM; \
	for i in $$(seq 100); do [ -s $(dir $(RUN_DB))receiver.port ] && break; sleep 0.05; done; \
	export DEMO_RECEIVER=http://127.0.0.1:$$(cat $(dir $(RUN_DB))receiver.port); \
	echo "escalator serve: http://127.0.0.1:$(RUN_PORT)  (policy $(RUN_POLICY), database $(RUN_DB))"; \
	echo "tokens: $(RUN_TOKENS)"; \
	echo "notifications: delivered to a local receiver, one JSON line each in $(RUN_INBOX)"; \
	echo "try:"; \
	echo "  curl -s -H 'Authorization: Bearer demo-viewer-token' http://127.0.0.1:$(RUN_PORT)/v1/queues"; \
	echo "  curl -s -H 'Authorization: Bearer demo-bot-token' --data-binary @examples/tickets/meow-04-legal-threat.json http://127.0.0.1:$(RUN_PORT)/v1/evaluate"; \
	echo "  curl -s -H 'Authorization: Bearer demo-viewer-token' http://127.0.0.1:$(RUN_PORT)/v1/notifications"; \
	echo "Ctrl-C stops it; docs/api.md describes the API."; \
	$(B)/escalator serve --port $(RUN_PORT) --db $(RUN_DB) --policy $(RUN_POLICY) \
	    --seed examples/tickets --tokens $(RUN_TOKENS) --notify-routes examples/demo-routes.json

triage-examples:
	@$(MAKE) --no-print-directory all
	@set -- examples/tickets/*.json; \
	if [ ! -e "$$1" ]; then echo "no tickets in examples/tickets/"; exit 0; fi; \
	rc=0; for t in "$$@"; do \
	    echo "== $$t"; \
	    $(B)/escalator triage --policy $(RUN_POLICY) --now $(RUN_NOW) $(RUN_FLAGS) "$$t" || rc=1; \
	done; exit $$rc

test: deps
	@$(MAKE) --no-print-directory all asan fuzz-build
	@ESC_BUILD=$(B)/asan FUZZ_BUILD=$(B)/fuzz ESC_SO=$(B)/libescalator.so \
	    tests/run-tests.sh

fuzz: deps
	@$(MAKE) --no-print-directory fuzz-build
	@FUZZ_BUILD=$(B)/fuzz FUZZ_SECONDS=$(FUZZ_SECONDS) tests/run-tests.sh fuzz

# ---- install ----------------------------------------------------------------

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(INCLUDEDIR) \
	    $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(DATADIR)/escalator/policies/cases
	install -m 755 $(B)/escalator $(DESTDIR)$(BINDIR)/escalator
	install -m 644 include/escalator.h $(DESTDIR)$(INCLUDEDIR)/escalator.h
	install -m 644 $(B)/libescalator.a $(DESTDIR)$(LIBDIR)/libescalator.a
	install -m 755 $(B)/libescalator.so $(DESTDIR)$(LIBDIR)/libescalator.so.$(VERSION)
	ln -sf libescalator.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libescalator.so.$(SOMAJOR)
	ln -sf libescalator.so.$(SOMAJOR) $(DESTDIR)$(LIBDIR)/libescalator.so
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' \
	    -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' -e 's|@VERSION@|$(VERSION)|g' \
	    escalator.pc.in > $(B)/escalator.pc
	install -m 644 $(B)/escalator.pc $(DESTDIR)$(LIBDIR)/pkgconfig/escalator.pc
	for f in policies/*.yaml policies/cases/*.yaml; do \
	    [ -f "$$f" ] || continue; \
	    install -m 644 "$$f" "$(DESTDIR)$(DATADIR)/escalator/$$f"; \
	done

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/escalator $(DESTDIR)$(INCLUDEDIR)/escalator.h \
	    $(DESTDIR)$(LIBDIR)/libescalator.a $(DESTDIR)$(LIBDIR)/libescalator.so \
	    $(DESTDIR)$(LIBDIR)/libescalator.so.$(SOMAJOR) \
	    $(DESTDIR)$(LIBDIR)/libescalator.so.$(VERSION) \
	    $(DESTDIR)$(LIBDIR)/pkgconfig/escalator.pc
	rm -rf $(DESTDIR)$(DATADIR)/escalator

clean:
	rm -rf $(B)

-include $(ALL_OBJS:.o=.d)
