# vpcd: the two commands of the README, and the builds behind them.
#   make run    install what is missing, build, run the seed's system
#   make test   install what is missing, build, run every test
BUILD      ?= build
ASAN_BUILD ?= build-asan
TSAN_BUILD ?= build-tsan
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 10
TEMPLATE   ?= examples/service-a.json

.PHONY: all deps build asan tsan run test unit unit-asan unit-tsan e2e fuzz format clean bench bench-route

all: build

deps:
	@scripts/deps.sh

build: $(BUILD)/build.ninja
	ninja -C $(BUILD)

$(BUILD)/build.ninja:
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo

asan: $(ASAN_BUILD)/build.ninja
	ninja -C $(ASAN_BUILD)

$(ASAN_BUILD)/build.ninja:
	CC=clang cmake -S . -B $(ASAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DVPCD_SANITIZE=ON

# ThreadSanitizer: the ALB's unit tests, with worker threads among them
# (about 25 s of tests at load 8 on 2 cores, so `make test` runs it; clang's
# TSan runtime comes with libclang-rt-14-dev, which scripts/deps.sh installs).
tsan: $(TSAN_BUILD)/build.ninja
	ninja -C $(TSAN_BUILD)

$(TSAN_BUILD)/build.ninja:
	CC=clang cmake -S . -B $(TSAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DVPCD_TSAN=ON

unit-tsan: tsan
	TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" \
		ctest --test-dir $(TSAN_BUILD) --output-on-failure -R '^test_alb'

run: deps
	$(MAKE) build
	$(BUILD)/vpcd up $(TEMPLATE)

unit: build
	ctest --test-dir $(BUILD) --output-on-failure

unit-asan: asan
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
		ctest --test-dir $(ASAN_BUILD) --output-on-failure

fuzz:
	CC=clang cmake -S . -B $(FUZZ_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DVPCD_FUZZ=ON \
		-DVPCD_FUZZ_SECONDS=$(FUZZ_SECONDS)
	ninja -C $(FUZZ_BUILD)
	ctest --test-dir $(FUZZ_BUILD) --output-on-failure

e2e: build
	VPCD_BIN=$(CURDIR)/$(BUILD)/vpcd /usr/bin/python3 -m pytest -q tests/e2e

test: deps
	scripts/check-banned.sh
	$(MAKE) unit unit-asan unit-tsan fuzz e2e

# Benchmarks against haproxy/nginx (HTTP) and NSD/Knot (DNS); installs its own
# tools (bench/deps.sh), never needed by `make test`. BENCH_ARGS e.g. --duration 10.
BENCH_BUILD ?= build-bench
bench:
	$(MAKE) build BUILD=$(BENCH_BUILD)
	BUILD=$(BENCH_BUILD) /usr/bin/python3 bench/http/run.py $(BENCH_ARGS)
	BUILD=$(BENCH_BUILD) /usr/bin/python3 bench/dns/run.py $(BENCH_ARGS)

# The routing microbenchmark (bench/route/bench_route.c): ns/request against
# listeners of 1..10,000 rules, with the rule index and with a linear scan.
bench-route: $(BUILD)/build.ninja
	ninja -C $(BUILD) bench_route
	$(BUILD)/bench_route

format:
	clang-format -i src/*.c src/*/*.c src/*/*.h tests/unit/*.c tests/unit/*.h

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(TSAN_BUILD) $(FUZZ_BUILD)
