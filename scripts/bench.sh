#!/usr/bin/env bash
# Installs what is missing, builds, then runs the side-by-side benchmark
# (bench/side_by_side.py): lockerd with 1 and 3 members, redis-server,
# Redlock over 3 redis-servers and a 3-member etcd (etcd-server, installed
# here; --no-etcd leaves it out), all on this machine in one run. It prints the
# table and the issue-5 targets and writes bench/RESULTS.md and
# bench/results.png. Arguments go to side_by_side.py (--seconds, --leases,
# --quick, --no-etcd).
set -euo pipefail
source "$(dirname "$0")/setup.sh"
install_packages "${BUILD_PACKAGES[@]}" "${BENCH_PACKAGES[@]}"
build_lockerd
python3 "$ROOT/bench/side_by_side.py" --build "$BUILD_DIR" "$@"
