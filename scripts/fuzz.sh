#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz, clang with ASan + UBSan) into
# build-fuzz/ and runs each for a while, one after the other.
# Usage: ./scripts/fuzz.sh [seconds-per-target] [target...]
#   seconds-per-target  default 60; hours work too (./scripts/fuzz.sh 3600)
#   target              resp, engine, peer, lua (or lockerd_fuzz_<name>);
#                       default all four
# Each target starts from its checked-in seeds (tests/fuzz/corpus/<target>)
# copied into build-fuzz/fuzz-work/<target>/corpus, where the corpus grows
# from run to run; the checked-in seeds are never written. Crash, leak and
# timeout inputs land in build-fuzz/fuzz-work/<target>/artifacts/; replay
# one with: build-fuzz/tests/fuzz/<target> <file>  (LOCKERD_FUZZ_TRACE=1
# prints the commands and replies). Exits non-zero if any target crashed.
# A target stops at its first crash; with LOCKERD_FUZZ_KEEP_GOING=1 it runs
# in libFuzzer's fork mode and keeps going after crashes, timeouts and
# out-of-memory inputs (for long runs while a known bug is unfixed).
set -euo pipefail
source "$(dirname "$0")/setup.sh"

SECONDS_PER_TARGET="${1:-60}"
if ! [[ "$SECONDS_PER_TARGET" =~ ^[0-9]+$ ]] || [ "$SECONDS_PER_TARGET" -eq 0 ]; then
  echo "Usage: $0 [seconds-per-target] [target...]  (targets: resp engine peer lua)" >&2
  exit 2
fi
shift || true
ALL_TARGETS=(resp engine peer lua)
TARGETS=()
for name in "${@:-${ALL_TARGETS[@]}}"; do
  name="${name#lockerd_fuzz_}"
  case "$name" in
    resp | engine | peer | lua) TARGETS+=("$name") ;;
    *) echo "Unknown fuzz target: $name (targets: ${ALL_TARGETS[*]})" >&2; exit 2 ;;
  esac
done

# Inputs longer than these are not tried: a few thousand bytes reach every
# limit the targets set (the tiny parser limits, 256 lines, the 4 MB Lua
# memory limit) while keeping runs fast.
max_len_of() {
  case "$1" in
    resp) echo 4096 ;;
    engine) echo 4096 ;;
    peer) echo 4096 ;;
    lua) echo 2048 ;;
  esac
}
dict_of() {
  case "$1" in
    resp) echo resp ;;
    engine) echo engine ;;
    peer) echo peer ;;
    lua) echo lua ;;
  esac
}

install_packages "${BUILD_PACKAGES[@]}" clang libclang-rt-14-dev

FUZZ_BUILD_DIR="${LOCKERD_FUZZ_BUILD_DIR:-$ROOT/build-fuzz}"
JOBS="${LOCKERD_FUZZ_BUILD_JOBS:-$(nproc)}"
# -O1 with line tables only, as libFuzzer's documentation builds: quicker to
# build than -O2 -g, and crash stacks still name files and lines.
CC=clang CXX=clang++ cmake -S "$ROOT" -B "$FUZZ_BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only -DNDEBUG" \
  -DLOCKERD_FUZZ=ON -DLOCKERD_BUILD_TESTS=OFF -DLOCKERD_BUILD_BENCH=OFF >/dev/null
BUILD_TARGETS=()
for target in "${TARGETS[@]}"; do BUILD_TARGETS+=(--target "lockerd_fuzz_$target"); done
cmake --build "$FUZZ_BUILD_DIR" -j "$JOBS" "${BUILD_TARGETS[@]}"

# Sanitizer findings stop the run (libFuzzer keeps the input); stacks are
# symbolized when llvm-symbolizer is there.
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1}"
if [ -z "${ASAN_SYMBOLIZER_PATH:-}" ] && [ -x /usr/bin/llvm-symbolizer-14 ]; then
  export ASAN_SYMBOLIZER_PATH=/usr/bin/llvm-symbolizer-14
fi

WORK="$FUZZ_BUILD_DIR/fuzz-work"
SUMMARY=()
FAILED=0
for target in "${TARGETS[@]}"; do
  binary="$FUZZ_BUILD_DIR/tests/fuzz/lockerd_fuzz_$target"
  dir="$WORK/lockerd_fuzz_$target"
  mkdir -p "$dir/corpus" "$dir/artifacts"
  # The seeds join the corpus kept from earlier runs (never the other way).
  cp -n "$ROOT/tests/fuzz/corpus/lockerd_fuzz_$target"/* "$dir/corpus/" 2>/dev/null || true
  stamp="$dir/.started"
  touch "$stamp"
  log="$dir/fuzz.log"
  echo "== lockerd_fuzz_$target: ${SECONDS_PER_TARGET}s (log: $log)"
  keep_going=()
  if [ "${LOCKERD_FUZZ_KEEP_GOING:-0}" = 1 ]; then
    keep_going=(-fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1)
  fi
  set +e
  (cd "$dir" && "$binary" corpus "${keep_going[@]}" \
    -dict="$ROOT/tests/fuzz/dict/$(dict_of "$target").dict" \
    -max_len="$(max_len_of "$target")" \
    -max_total_time="$SECONDS_PER_TARGET" \
    -timeout=10 \
    -rss_limit_mb=2048 \
    -print_final_stats=1 \
    -artifact_prefix="$dir/artifacts/") >"$log" 2>&1
  rc=$?
  set -e
  # The last of what libFuzzer printed (nothing matching is not an error).
  last() { { grep -oE "$1" "$log" || true; } | tail -1; }
  executions="$(last 'stat::number_of_executed_units: *[0-9]+' | tr -dc '0-9')"
  exec_per_sec="$(last 'stat::average_exec_per_sec: *[0-9]+' | tr -dc '0-9')"
  if [ -z "$executions" ]; then  # Fork mode: its progress lines ("#N: cov: ... exec/s N").
    executions="$(last '^#[0-9]+: cov:' | tr -dc '0-9')"
    exec_per_sec="$(last 'exec/s [0-9]+' | tr -dc '0-9')"
  fi
  coverage="$(last 'cov: [0-9]+ ft: [0-9]+')"
  corpus_line="$(last 'corp: [0-9]+(/[0-9]+[a-zA-Z]*)?')"
  crashes=()
  while IFS= read -r file; do
    [ -n "$file" ] && crashes+=("$file")
  done < <(find "$dir/artifacts" -type f -newer "$stamp" ! -name 'slow-unit-*' | sort)
  slow="$(find "$dir/artifacts" -type f -newer "$stamp" -name 'slow-unit-*' | wc -l)"
  line="lockerd_fuzz_$target: executions ${executions:-?}, exec/s ${exec_per_sec:-?}, ${coverage:-cov: ?}"
  line+=", ${corpus_line:-corp: ?}, crashes ${#crashes[@]}"
  [ "$slow" -gt 0 ] && line+=", slow units $slow"
  if [ "$rc" -ne 0 ] || [ "${#crashes[@]}" -gt 0 ]; then
    FAILED=1
    line+=" (exit code $rc)"
    for file in "${crashes[@]}"; do line+=$'\n'"    $file"; done
    # What libFuzzer and the sanitizers said about it.
    while IFS= read -r said; do
      line+=$'\n'"    | $said"
    done < <(grep -m 4 -E 'ERROR: |FUZZ INVARIANT|CHECK failed|runtime error|SUMMARY' "$log" || true)
    line+=$'\n'"    log: $log"
  fi
  echo "$line"
  SUMMARY+=("$line")
done

echo
echo "== fuzz summary (${SECONDS_PER_TARGET}s per target)"
for line in "${SUMMARY[@]}"; do echo "$line"; done
if [ "$FAILED" -ne 0 ]; then
  echo "Crashes found: replay with $FUZZ_BUILD_DIR/tests/fuzz/lockerd_fuzz_<target> <file>" >&2
  exit 1
fi
