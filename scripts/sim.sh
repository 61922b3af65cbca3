#!/usr/bin/env bash
# Long simulator run: builds, then runs the cluster simulator over many seeds
# (default 100,000; about 13 minutes on 2 cores). A failing seed is printed
# with the command that replays it:  build/tests/lockerd_sim --replay SEED
# Usage: ./scripts/sim.sh [seeds] [first-seed]
set -euo pipefail
source "$(dirname "$0")/setup.sh"
install_packages "${BUILD_PACKAGES[@]}"
build_lockerd
exec "$BUILD_DIR/tests/lockerd_sim" --seeds "${1:-100000}" --start "${2:-1}"
