#!/usr/bin/env bash
# The whole test suite: unit and integration (real FUSE, dockerd, notary-server).
# Integration tests need root; run from a fresh machine with: bash scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
exec npx ava "$@"
