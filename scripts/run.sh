#!/usr/bin/env bash
# Installs what is missing, builds, and starts lockerd on 127.0.0.1:6379.
# Extra arguments are lockerd settings, e.g. ./scripts/run.sh --port 7000
set -euo pipefail
source "$(dirname "$0")/setup.sh"
install_packages "${BUILD_PACKAGES[@]}"
build_lockerd
mkdir -p "$ROOT/data"
exec "$BUILD_DIR/lockerd" --bind 127.0.0.1 --port 6379 --dir "$ROOT/data" "$@"
