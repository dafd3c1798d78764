# finesse-notify: build, run and test.
#
#   make run     start the server with its embedded defaults (go run)
#   make build   build bin/finesse-notify
#   make test    run every test: gofmt check, go vet, go test -race, each
#                fuzz target briefly, then the interop suite (Strophe.js
#                under Node and in headless Chromium) against the built binary,
#                then a short finesse-load run that fails on any lost event
#
# The interop suite needs Node 20 or newer and Chromium at $(CHROMIUM);
# `make test` runs `npm ci` in interop/ when node_modules is missing or older
# than the lock file, and installs Debian's chromium when it is missing and
# it can (as root, or with password-less sudo).

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := build
.NOTPARALLEL:

GO ?= go
NPM ?= npm
NODE ?= node
BIN := bin/finesse-notify
LOAD_BIN := bin/finesse-load
CHROMIUM ?= /usr/bin/chromium
FUZZTIME ?= 10s
# Minimising each new interesting input may otherwise take up to a minute,
# which would make the run's length unpredictable.
FUZZMINIMIZETIME ?= 3s
# Arguments for `make run`, e.g. make run ARGS='--log-level=debug'
ARGS ?=

NODE_DEPS := interop/node_modules/.package-lock.json

.PHONY: all build build-load run test fmt-check vet go-test fuzz interop-deps chromium interop load-smoke clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/finesse-notify

build-load:
	$(GO) build -o $(LOAD_BIN) ./cmd/finesse-load

run:
	$(GO) run ./cmd/finesse-notify $(ARGS)

test: fmt-check vet go-test fuzz build interop load-smoke
	@echo "make test: all tests passed"

fmt-check:
	@echo "gofmt -l (every Go file must be formatted)"
	@unformatted="$$(find . \( -path ./.git -o -path ./interop/node_modules \) -prune -o -name '*.go' -print0 | xargs -0 -r gofmt -l)"; \
	if [ -n "$$unformatted" ]; then \
		echo "these files need gofmt -w:" >&2; echo "$$unformatted" >&2; exit 1; \
	fi

vet:
	$(GO) vet ./...

go-test:
	$(GO) test -race ./...

# Every Fuzz function in the module, each for $(FUZZTIME). `go test -list`
# prints a package's matching names and then its "ok <package>" line.
fuzz:
	@targets="$$($(GO) test -list '^Fuzz' ./... | awk '/^Fuzz/ { names[n++] = $$1; next } /^ok/ { for (i = 0; i < n; i++) print $$2, names[i]; n = 0 }')"; \
	if [ -z "$$targets" ]; then echo "no fuzz targets found" >&2; exit 1; fi; \
	while read -r pkg name; do \
		echo "$(GO) test -run='^$$' -fuzz='^$$name\$$' -fuzztime=$(FUZZTIME) -fuzzminimizetime=$(FUZZMINIMIZETIME) $$pkg"; \
		$(GO) test -run='^$$' -fuzz="^$$name\$$" -fuzztime=$(FUZZTIME) -fuzzminimizetime=$(FUZZMINIMIZETIME) "$$pkg"; \
	done <<< "$$targets"

# npm ci rewrites node_modules/.package-lock.json, so it is the stamp that
# says node_modules matches the lock file.
$(NODE_DEPS): interop/package-lock.json interop/package.json
	@$(NODE) -e 'const major = Number(process.versions.node.split(".")[0]); if (major < 20) { console.error("the interop suite needs Node 20 or newer, found " + process.version); process.exit(1); }'
	cd interop && $(NPM) ci --no-audit --no-fund
	@touch $@

interop-deps: $(NODE_DEPS)

chromium:
	@if [ -x "$(CHROMIUM)" ]; then echo "chromium: $(CHROMIUM)"; exit 0; fi; \
	if [ "$(CHROMIUM)" != /usr/bin/chromium ]; then \
		echo "error: CHROMIUM=$(CHROMIUM) does not exist" >&2; exit 1; \
	fi; \
	if ! command -v apt-get >/dev/null; then \
		echo "error: the browser interop test needs Chromium at /usr/bin/chromium and there is no apt-get to install it; install Chromium or set CHROMIUM=/path/to/chromium" >&2; exit 1; \
	fi; \
	if [ "$$(id -u)" = 0 ]; then sudo=; \
	elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo=sudo; \
	else \
		echo "error: the browser interop test needs Chromium at /usr/bin/chromium; install it as root with: apt-get update && apt-get install -y chromium" >&2; exit 1; \
	fi; \
	echo "chromium is missing: installing Debian's chromium"; \
	echo "$$sudo apt-get update && $$sudo apt-get install -y chromium"; \
	$$sudo apt-get update; \
	DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -q chromium; \
	if [ ! -x /usr/bin/chromium ]; then echo "error: apt-get did not install /usr/bin/chromium" >&2; exit 1; fi

interop: build $(NODE_DEPS) chromium
	cd interop && INTEROP_SERVER_BIN="$(CURDIR)/$(BIN)" INTEROP_CHROMIUM="$(CHROMIUM)" \
		$(NODE) --test --test-concurrency=1 --test-timeout=300000 --test-reporter=spec test/*.test.mjs

# 400 sessions (WebSocket and BOSH) and 600 events against the built
# server; finesse-load exits 1 when an event is lost.
load-smoke: build build-load
	scripts/load-smoke.sh $(BIN) $(LOAD_BIN)

clean:
	rm -rf bin interop/test-results
