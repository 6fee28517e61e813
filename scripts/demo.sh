#!/usr/bin/env bash
# pal demo (README's first command: `npm run demo`), as root on a fresh Debian/Ubuntu machine:
# installs what it needs and builds, then runs the demo itself, scripts/demo/main.ts: three tiny
# local images, one signed with Notary v1 (label demo), one with cosign v3 (label billing), one
# unsigned that only claims a label; pald grants each signed container its secret and denies the
# unsigned one, and `pal containers`/`pal explain` show which signer granted what. The real
# components (private dockerd, notary-server, docker-registry) are started on loopback by
# scripts/components, the code the tests and the bench use too. PAL_DEMO_TRUST=none runs the
# unsigned development mode instead. Cleans up everything it started, by pid.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ $(id -u) -ne 0 ]]; then
  echo "demo: run as root (pald mounts a FUSE filesystem, the demo may start dockerd)" >&2
  exit 1
fi

# pald refuses files others could change (SPEC File safety): whatever the caller's umask, what the
# demo writes is 0644/0755 (private keys 0600, written so by pal keygen).
umask 022

printf '\n\033[1m== %s\033[0m\n' "Installing dependencies and building"
bash scripts/install-deps.sh

exec node dist/scripts/demo/main.js
