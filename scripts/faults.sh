#!/usr/bin/env bash
# A long fault-injection run: builds, then runs the fault suite for a number
# of minutes from a seed, and writes a report (text) and a PNG timeline of
# holds and faults into reports/faults-<seed>-<minutes>m/.
# Runs as root (network namespaces); without root, partitions are skipped.
# Usage: ./scripts/faults.sh [minutes] [seed] [flags of lockerd_faults...]
#   e.g. ./scripts/faults.sh 10 1 --appendonly   (members with the log, and
#   kill -9 of every member at once, and a full disk on small tmpfs dirs)
set -euo pipefail
source "$(dirname "$0")/setup.sh"
install_packages "${BUILD_PACKAGES[@]}" "${FAULTS_PACKAGES[@]}"
build_lockerd
minutes="${1:-10}"
seed="${2:-1}"
report="$ROOT/reports/faults-$seed-${minutes}m"
rm -rf "$report"
shift $(( $# < 2 ? $# : 2 ))
exec "$BUILD_DIR/tests/lockerd_faults" --seconds "$((minutes * 60))" --seed "$seed" --report "$report" "$@"
