# SCOPE — on-device sign language interpreter.
#
#   make run    set up, build, and run the default job (see README)
#   make test   set up and run every test
#
# Every build, test and run goes through the same cgo flags (CGO_ENV below), so Go's
# build cache keeps llama.cpp compiled: the first build takes 6-10 minutes on 2 cores,
# later ones seconds. Changing any of these flags (a baseline non-AVX2 build, -race)
# recompiles llama.cpp into a cache of its own: `make test` runs test-race, whose first
# run compiles that copy once; the other such builds have their own targets.

SHELL := /bin/bash
GO ?= go
PY ?= /usr/bin/python3
SCOPE_CACHE ?= $(CURDIR)/.cache
export SCOPE_CACHE

ARCH := $(shell uname -m)

# Recursively expanded on purpose: these name module-cache folders that exist only
# after `go mod download` has run in `setup`.
OLLAMA_DIR = $(shell $(GO) list -m -f '{{.Dir}}' github.com/ollama/ollama)
SHIM_SRC := third_party/miniaudio
SHIM_HASH := $(shell cat $(SHIM_SRC)/miniaudio/miniaudio.h | sha256sum | cut -c1-16)
SHIM_DIR := $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/scope/cgo/miniaudio-$(SHIM_HASH)

ifeq ($(ARCH),x86_64)
SIMD_FLAGS := -mavx2 -mfma -mf16c
else
SIMD_FLAGS :=
endif
CGO_CPPFLAGS_ALL = -I$(SHIM_DIR) -I$(OLLAMA_DIR)/llama/llama.cpp/include -I$(OLLAMA_DIR)/ml/backend/ggml/ggml/include
CGO_ENV = CGO_ENABLED=1 CGO_CPPFLAGS="$(CGO_CPPFLAGS_ALL)" CGO_CFLAGS="-O2 -g $(SIMD_FLAGS)" CGO_CXXFLAGS="-O2 -g $(SIMD_FLAGS)"

GOTEST_FLAGS ?= -timeout 40m -p 2
# GOFLAGS may carry -buildvcs=false; the revision then comes from git here.
REVISION := $(shell git rev-parse --short HEAD 2>/dev/null)$(shell git diff --quiet HEAD 2>/dev/null || echo -dirty)
LDFLAGS := -X scope/version.revision=$(REVISION)

.PHONY: all setup build run test test-go test-python test-race bench bench-phoenix llmbench-deps env clean-bin help print-revision
.PHONY: setup-arm64 sysroot-arm64 build-arm64 package package-arm64 package-test check-arm64
all: build

help:
	@echo "make run    - set up, build and run the default job"
	@echo "make test   - set up and run all tests (test-go, test-python, test-race)"
	@echo "make test-race - the race detector on every package that starts goroutines"
	@echo "make build  - build bin/scope"
	@echo "make setup  - install packages and unpack models into $(SCOPE_CACHE)"
	@echo "make env    - print the cgo environment for plain 'go build'"
	@echo "make bench  - speed benchmarks: pose, recogniser, translator"
	@echo "make bench-phoenix - train and score the translator on Phoenix-2014T (../shared/data)"
	@echo "make package - dist/scope_<version>_amd64.deb (make package-arm64: also the cross-built arm64 one)"
	@echo "make package-test - install, upgrade, remove and purge the amd64 package in a throwaway Debian 12 root"
	@echo "make check-arm64 - run the arm64 package's binary under qemu: version, run, bench"

setup:
	@bash scripts/setup.sh
	@echo "==> go: downloading modules"; $(GO) mod download
	@if [ ! -f tools/mpref/node_modules/.package-lock.json ] || [ tools/mpref/package-lock.json -nt tools/mpref/node_modules/.package-lock.json ]; then \
	  echo "==> npm: tools/mpref (LiteRT and MediaPipe reference harness)"; npm ci --prefix tools/mpref --no-audit --no-fund --loglevel=error; \
	else echo "==> npm: tools/mpref present"; fi
	@if [ ! -f daemon/kiosk/pagetest/node_modules/.package-lock.json ] || [ daemon/kiosk/pagetest/package-lock.json -nt daemon/kiosk/pagetest/node_modules/.package-lock.json ]; then \
	  echo "==> npm: daemon/kiosk/pagetest (playwright-core for the kiosk page's tests in Chromium)"; npm ci --prefix daemon/kiosk/pagetest --no-audit --no-fund --loglevel=error; \
	else echo "==> npm: daemon/kiosk/pagetest present"; fi
	@if [ ! -f $(SHIM_DIR)/miniaudio/miniaudio.h ]; then \
	  echo "==> cgo: installing miniaudio shim at $(SHIM_DIR)"; \
	  mkdir -p $(SHIM_DIR)/miniaudio && cp $(SHIM_SRC)/miniaudio/miniaudio.h $(SHIM_DIR)/miniaudio/; \
	else echo "==> cgo: miniaudio shim present"; fi

# `eval $(make -s env)` sets up a shell for plain `go build`/`go test`.
env:
	@echo "export CGO_ENABLED=1 CGO_CPPFLAGS='$(CGO_CPPFLAGS_ALL)' CGO_CFLAGS='-O2 -g $(SIMD_FLAGS)' CGO_CXXFLAGS='-O2 -g $(SIMD_FLAGS)' SCOPE_CACHE='$(SCOPE_CACHE)'"

build: setup
	@echo "==> go build ./cmd/scope (the first build compiles llama.cpp: 6-10 minutes on 2 cores)"
	$(CGO_ENV) $(GO) build -ldflags "$(LDFLAGS)" -o bin/scope ./cmd/scope

# The daemon on the built-in demo: prints the page's address and each sentence; Ctrl-C stops it.
run: build
	./bin/scope serve

test: setup test-go test-python test-race

test-go:
	$(CGO_ENV) $(GO) vet ./...
	$(CGO_ENV) $(GO) test $(GOTEST_FLAGS) ./...

test-python:
	$(PY) -m unittest discover -s train/tests -t .

# The race detector on every package whose own code starts goroutines (found by a grep, so
# a new one joins by itself). -race builds its own copy of every cgo package, llama.cpp
# included: the first run compiles that (minutes), later runs take it from Go's cache.
# Part of `make test`: 2 min 42 s on 2 shared cores with a warm cache.
RACE_PKGS = $(shell git ls-files '*.go' | grep -v '_test[.]go$$' | xargs grep -lE '^[[:space:]]*go [[:alpha:]_]' | xargs -n1 dirname | sort -u | sed 's|^|./|')
test-race: setup
	$(CGO_ENV) $(GO) test -race $(GOTEST_FLAGS) $(RACE_PKGS)

# Speed benchmarks on this machine (each prints what it was measured on).
bench: build llmbench-deps
	./bin/scope bench pose
	./bin/scope bench slr
	./bin/scope bench slt

# node-llama-cpp, the peer `scope bench slt` compares llama.cpp's own speed with.
llmbench-deps:
	@if [ ! -f tools/llmbench/node_modules/.package-lock.json ] || [ tools/llmbench/package-lock.json -nt tools/llmbench/node_modules/.package-lock.json ]; then \
	  echo "==> npm: tools/llmbench (node-llama-cpp)"; cd tools/llmbench && npm ci --omit=optional --no-audit --no-fund --loglevel=error; \
	fi

# Phoenix-2014T gloss-to-text: trains the translator from ../shared/data (read in place; the
# model does not ship) and scores dev four ways, F16 and Q4_0. Tens of minutes on 2 cores.
bench-phoenix: build
	bash scripts/bench-phoenix.sh

clean-bin:
	rm -rf bin

print-revision:
	@echo $(REVISION)

# --- Debian packages (packaging/README.md) --------------------------------------------
# The arm64 package is cross-built here against an arm64 Debian 12 sysroot in a folder
# (packaging/sysroot-arm64.sh: mmdebstrap, about 3 minutes the first time, then cached in
# ~/.cache/scope); its first build compiles llama.cpp for arm64 (79 minutes on 2 cores),
# later ones hit Go's build cache. Not part of `make test`: package-test needs a Debian
# root made by mmdebstrap and the cross-build takes longer than CI should.
DEB_VERSION := $(shell packaging/version.sh)

setup-arm64: setup
	@bash packaging/setup-arm64.sh

sysroot-arm64: setup-arm64
	@bash packaging/sysroot-arm64.sh >/dev/null

build-arm64: setup-arm64
	@bash packaging/build.sh arm64 bin/arm64/scope

package: setup
	@bash packaging/build.sh amd64 bin/amd64/scope
	@bash packaging/convert-models.sh bin/amd64/scope
	@VERSION=$(DEB_VERSION) bash packaging/deb.sh amd64 bin/amd64/scope dist

# The arm64 package's unit comes from the amd64 binary that `package` builds.
package-arm64: setup-arm64 package
	@bash packaging/build.sh arm64 bin/arm64/scope
	@VERSION=$(DEB_VERSION) bash packaging/deb.sh arm64 bin/arm64/scope dist

package-test: package
	@bash packaging/package-test.sh dist/scope_$(DEB_VERSION)_amd64.deb

check-arm64: package-arm64
	@bash packaging/check-arm64.sh dist/scope_$(DEB_VERSION)_arm64.deb
