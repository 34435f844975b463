# SPDX-License-Identifier: BSD-3-Clause
# Makefile - a thin wrapper over CMake.  `make demo` and `make test` work on a fresh
# Debian 12 machine as root: each installs the packages it needs first.
BUILD ?= build
ASAN_BUILD ?= build-asan
TSAN_BUILD ?= build-tsan
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all deps configure build demo test test-asan test-tsan bench install clean

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

# The transport tests (CTest label `transport`) built with ThreadSanitizer: the sender's
# and the receiver's threads in one process (test_transfer) and in the CLI (transfer_*).
# halt_on_error: a race fails the test instead of scrolling past; reports go to files
# and fail the target even from a process whose exit status a script ignores (a server
# stopped at the end of a shell test); the suppressions file names third-party code only.  transfer_cut_connection is left out: it asserts that the
# chunks a proxy held when it cut were rebuilt from parity, and under TSan the sender is
# slower than the proxy drains, so nothing is in flight at the cut (test_transfer's cuts
# run here instead).
test-tsan: deps
	@cmake -S . -B $(TSAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DRP_TSAN=ON -DRP_BUILD_BENCH=OFF $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(TSAN_BUILD) -j $(JOBS)
	@rm -rf $(TSAN_BUILD)/tsan-reports && mkdir -p $(TSAN_BUILD)/tsan-reports
	@cd $(TSAN_BUILD) && TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$(CURDIR)/tests/tsan.supp log_path=$(CURDIR)/$(TSAN_BUILD)/tsan-reports/tsan" \
		ctest --output-on-failure -j $(JOBS) -L transport -E '^transfer_cut_connection$$'; s=$$?; \
		if ls tsan-reports/tsan.* >/dev/null 2>&1; then cat tsan-reports/tsan.*; \
			echo "make test-tsan: ThreadSanitizer reports above"; exit 1; fi; exit $$s


# The WAN transfer benchmark (root; about an hour): bench/wan/README.md.
.PHONY: bench-wan
bench-wan: build
	@bench/wan/run --build $(BUILD) --synth-mb 1000 --fault

install: build
	@cmake --install $(BUILD)

clean:
	@rm -rf $(BUILD) $(ASAN_BUILD) $(TSAN_BUILD)
