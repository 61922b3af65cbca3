#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test (unit and
# integration). Exits non-zero on any failure. This is what CI runs.
set -euo pipefail
source "$(dirname "$0")/setup.sh"
install_packages "${BUILD_PACKAGES[@]}" "${TEST_PACKAGES[@]}"
install_node
build_lockerd
cd "$BUILD_DIR"
ctest --output-on-failure -j "$(nproc)" --timeout 300
# Unit, integration and simulation tests again under AddressSanitizer,
# LeakSanitizer and UndefinedBehaviorSanitizer (the loop is one thread; the
# compaction's worker touches only the snapshot handed to it, so there is no
# ThreadSanitizer run). The fault suite, the benchmark, the
# client matrix and the load test ran above on the normal build (the load
# test measures latency and RSS, which ASan's overheads would swamp).
echo "== the tests again under ASan + LSan + UBSan"
# Only what runs below is built (the fault suite's, load and client-matrix
# binaries are not).
build_sanitized --target lockerd lockerd_unit_tests lockerd_integration_tests lockerd_sim_tests \
  lockerd_explorer_tests
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1
# The unit tests in one process: as 480 processes, ASan's start-up cost
# each a third of a second, two minutes of the command in all.
(cd "$SANITIZED_BUILD_DIR" && ./tests/lockerd_unit_tests --gtest_brief=1)
# The simulator runs 500 seeds here (the normal build ran 2,000): this run
# looks for memory errors, which do not need more seeds, and ASan makes
# each seed four times slower.
(cd "$SANITIZED_BUILD_DIR" &&
  LOCKERD_SIM_SEEDS="${LOCKERD_SANITIZED_SIM_SEEDS:-500}" \
    ctest --output-on-failure -j "$(nproc)" --timeout 900 -R "^(Integration|Sim|Explore|Layout)\.")
unset ASAN_OPTIONS UBSAN_OPTIONS
# A short run of every libFuzzer target (about 45 s each: RESP parser,
# command layer, peer decoder, Lua scripts) when clang is installed;
# ./scripts/fuzz.sh 3600 runs them for hours.
if command -v clang++ >/dev/null; then
  "$ROOT/scripts/fuzz.sh" "${LOCKERD_FUZZ_SECONDS:-45}" resp lua
  # The engine and peer targets run about one input a second (each input
  # drives simulated members through long waits): a short run still
  # replays their seeds under the sanitizers; fuzz.sh runs them for longer.
  "$ROOT/scripts/fuzz.sh" "${LOCKERD_FUZZ_SHORT_SECONDS:-15}" engine peer
else
  echo "== fuzzing skipped: clang is not installed (apt-get install clang libclang-rt-14-dev)"
fi
cd "$BUILD_DIR"
# What the fault suite's short run saw (holds, faults by kind, violations).
for report in faults-short/report.txt faults-short-5/report.txt faults-short-aof/report.txt; do
  if [ -f "$report" ]; then
    echo "== fault suite, short run"
    cat "$report"
  fi
done
# What the 10,000-connection load test measured (latency, cut slow readers, RSS).
for report in tests/load-report.txt tests/load-report-cluster.txt; do
  if [ -f "$report" ]; then
    echo "== load test"
    cat "$report"
  fi
done
