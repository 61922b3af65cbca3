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
# What the fault suite's short run saw (holds, faults by kind, violations).
if [ -f faults-short/report.txt ]; then
  echo "== fault suite, short run"
  cat faults-short/report.txt
fi
