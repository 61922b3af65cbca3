#!/usr/bin/env bash
# Long simulator run: builds, then runs the cluster simulator over many seeds
# (default 100,000; about 15 minutes on 2 cores), then each of issue 14's
# restart scenarios and the shared-owner clients over a tenth as many. A failing seed is printed with the
# command that replays it:  build/tests/lockerd_sim --replay SEED
# (with --scenario NAME for a scenario's seed).
# Usage: ./scripts/sim.sh [seeds] [first-seed]
set -euo pipefail
source "$(dirname "$0")/setup.sh"
install_packages "${BUILD_PACKAGES[@]}"
build_lockerd
seeds="${1:-100000}"
first="${2:-1}"
status=0
"$BUILD_DIR/tests/lockerd_sim" --seeds "$seeds" --start "$first" || status=1
for scenario in crash-all-but-one clean-restart-clock-step clean-restart-after-release link-backlog \
    replaced-disk; do
  echo "== scenario $scenario"
  "$BUILD_DIR/tests/lockerd_sim" --scenario "$scenario" --seeds "$(( (seeds + 9) / 10 ))" --start "$first" ||
    status=1
done
echo "== clients sharing one owner name (SET NX, then DEL or RELEASE)"
"$BUILD_DIR/tests/lockerd_sim" --shared-owner --seeds "$(( (seeds + 9) / 10 ))" --start "$first" || status=1
exit "$status"
