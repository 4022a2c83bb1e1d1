# vigil - thin wrapper over Meson/Ninja. The real build is meson.build.
#
#   make            build into build/
#   make test       install what is missing, build, run every test
#   make run        install what is missing, build, start the node (vigild)
#   make demo       scan a demo tree with vigil scan
#   make asan       the test suite under ASan+UBSan (build-asan/)
#   make fuzz       build the libFuzzer targets and fuzz each for FUZZ_SECONDS
#   make bench      benchmarks (bench/), results in docs/BENCHMARKS.md
#   make format     clang-format every source file
#   make reproducible-check  two release builds of HEAD must be identical,
#                   and verify-build must agree (scripts/reproducible-check)

BUILD ?= build
MESON ?= meson
FUZZ_SECONDS ?= 60

.PHONY: all deps run-deps setup test run demo asan fuzz bench format clean \
	reproducible-check

all: setup
	ninja -C $(BUILD)

deps:
	@scripts/install-deps

setup:
	@test -f $(BUILD)/build.ninja || $(MESON) setup $(BUILD) >/dev/null

test: deps setup
	ninja -C $(BUILD)
	@scripts/run-tests $(BUILD)

run-deps:
	@scripts/install-deps run

run: run-deps all
	$(BUILD)/vigild --data var

demo: all
	@scripts/demo-scan $(BUILD)

asan: deps
	@test -f build-asan/build.ninja || $(MESON) setup build-asan \
		-Db_sanitize=address,undefined -Db_lundef=false \
		-Dbuildtype=debug >/dev/null
	ninja -C build-asan
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		scripts/run-tests build-asan

fuzz: deps
	@test -f build-fuzz/build.ninja || CC=clang $(MESON) setup build-fuzz \
		-Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false >/dev/null
	ninja -C build-fuzz
	scripts/run-fuzz build-fuzz $(FUZZ_SECONDS)

bench: deps all
	scripts/install-deps bench
	$(BUILD)/ssdeep_speed
	$(BUILD)/tlog_speed
	bench/scan.sh
	bench/node.sh
	bench/edge.sh
	bench/region.sh
	VIGIL_PG_FSYNC=on tests/pg/pg-run $(BUILD)/store_speed

reproducible-check: deps
	scripts/reproducible-check

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build build-asan build-fuzz
