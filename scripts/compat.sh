#!/usr/bin/env bash
# The client compatibility matrix alone (it is also part of ./scripts/test.sh):
# installs what is missing, builds, and runs tests/compat/matrix.py against a
# 3-member cluster. --update-docs rewrites the table and examples in
# docs/clients.md from this run.
set -euo pipefail
source "$(dirname "$0")/setup.sh"
install_packages "${BUILD_PACKAGES[@]}" "${COMPAT_PACKAGES[@]}"
install_node
build_lockerd
update=()
[ "${1:-}" = "--update-docs" ] && update=(--update-docs)
/usr/bin/python3 "$ROOT/tests/compat/matrix.py" --lockerd "$BUILD_DIR/lockerd" \
  --hiredis-client "$BUILD_DIR/tests/lockerd_compat_hiredis" --work "$BUILD_DIR/compat" \
  --docs "$ROOT/docs/clients.md" "${update[@]}"
