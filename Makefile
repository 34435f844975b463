# SPDX-License-Identifier: BSD-3-Clause
# Makefile - a thin wrapper over CMake.  `make demo` and `make test` work on a fresh
# Debian 12 machine as root: each installs the packages it needs first.
BUILD ?= build
ASAN_BUILD ?= build-asan
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all deps configure build demo test test-asan bench install clean

all: build

deps:
	@scripts/install-deps.sh

configure: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS) >/dev/null

build: configure
	@cmake --build $(BUILD) -j $(JOBS)

# The main job on the bundled default study (corpus/README.md).
demo: build
	@scripts/demo-send.sh $(BUILD)/radpipe

test: build
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# The same suite built with AddressSanitizer and UndefinedBehaviorSanitizer.
test-asan: deps
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DRP_SANITIZE=ON -DRP_BUILD_BENCH=OFF $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)
	@cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ctest --output-on-failure -j $(JOBS)

# The WAN transfer benchmark (root; about an hour): bench/wan/README.md.
.PHONY: bench-wan
bench-wan: build
	@bench/wan/run --build $(BUILD) --synth-mb 1000 --fault

install: build
	@cmake --install $(BUILD)

clean:
	@rm -rf $(BUILD) $(ASAN_BUILD)
