#!/usr/bin/env bash
# Installs what is missing, builds, runs the micro-benchmarks, then measures
# lockerd against redis-server with redis-benchmark, one after the other on
# this machine, and prints the ratios.
set -euo pipefail
source "$(dirname "$0")/setup.sh"
install_packages "${BUILD_PACKAGES[@]}" "${BENCH_PACKAGES[@]}"
build_lockerd
echo "== Micro-benchmarks (bench/lockerd_bench) on $(nproc) cores: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
"$BUILD_DIR/bench/lockerd_bench" --benchmark_min_time=0.2
echo
"$ROOT/bench/redis_benchmark_compare.sh" "$BUILD_DIR/lockerd"
echo
"$ROOT/bench/cluster_compare.sh" "$BUILD_DIR/lockerd" "$BUILD_DIR/bench/lock_load"
