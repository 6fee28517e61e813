#!/bin/sh
# Installs those of the named Debian packages that the image does not have yet, and cleans apt's
# lists afterwards. A base image that already carries them needs no network for this step.
set -eu
missing=""
for p in "$@"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
export DEBIAN_FRONTEND=noninteractive
apt-get update
# shellcheck disable=SC2086 # one word per package
apt-get install -y --no-install-recommends $missing
rm -rf /var/lib/apt/lists/*
