#!/usr/bin/env bash
# Installs the system packages pal needs on a fresh Debian/Ubuntu machine (as root),
# then the npm dependencies and the native addon. Idempotent: skips what is present.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(fuse3 libfuse3-dev libfuse2 pkg-config docker.io busybox-static notary golang-redoctober docker-registry
          openssl curl util-linux iproute2 procps python3
          containerd runc podman   # CRI (Kubernetes node) and podman integration tests
          debootstrap   # test/integration/docker-image.test.ts: a Debian base for docker/pald.Dockerfile, no pulls
          prometheus   # promtool: test/unit/daemon/alert-rules.test.ts checks docker/pal-alerts.yaml
          gnupg)   # test/integration/image-secrets-pal.test.ts: Cloudflare PAL ciphertexts made as its tooling did

# Developer tooling: `npm run format:native` (part of `npm run check`) checks native/ with it.
PACKAGES+=(clang-format)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "install-deps: missing packages (${missing[*]}); run as root to install them" >&2
    exit 1
  fi
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The Debian docker.io package may start a system dockerd through systemd; pal's tests and demo
# start their own private daemons and never rely on (or stop) one they did not start.

if [[ ! -d node_modules ]] || [[ package-lock.json -nt node_modules/.package-lock.json ]]; then
  npm ci --no-audit --no-fund
else
  npm run install --silent   # build the addon
fi
npx tsc -p tsconfig.json
