#!/usr/bin/env bash
# pal demo (README's first command: `npm run demo`), as root on a fresh Debian/Ubuntu machine:
# installs what it needs, starts a private dockerd if none is reachable, builds two tiny local
# images (one labelled pal.labels=demo, one not), generates a host key, seals a secret for label
# `demo`, starts pald, and shows the labelled container reading the secret from /run/pal while
# the other one gets nothing. Labels come from signed trust data: the demo starts a throwaway
# notary-server on 127.0.0.1 and signs the labelled image's id (PAL_DEMO_TRUST=none for the
# unsigned development mode instead). Cleans up everything it started, by pid.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD

if [[ $(id -u) -ne 0 ]]; then
  echo "demo: run as root (pald mounts a FUSE filesystem, the demo may start dockerd)" >&2
  exit 1
fi

# pald refuses files others could change (SPEC File safety): whatever the caller's umask, what the
# demo writes is 0644/0755 (private keys 0600, written so by pal keygen).
umask 022

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

say "Installing dependencies and building"
bash scripts/install-deps.sh

WORK=$(mktemp -d /tmp/pal-demo.XXXXXX)
MNT=$WORK/run/pal
ETC=$WORK/etc/pal
PALD_PID=""
NOTARY_PID=""
DOCKERD_PID=""
DOCKER_ARGS=()
CONTAINERS=()
IMAGES=()

pal() { node "$REPO/dist/src/cli/pal.js" "$@"; }
dk() { docker "${DOCKER_ARGS[@]}" "$@"; }

cleanup() {
  local status=$?
  set +e
  say "Cleaning up"
  for c in "${CONTAINERS[@]}"; do dk rm -f "$c" >/dev/null 2>&1; done
  for i in "${IMAGES[@]}"; do dk rmi -f "$i" >/dev/null 2>&1; done
  if [[ -n $PALD_PID ]] && kill -0 "$PALD_PID" 2>/dev/null; then
    kill -TERM "$PALD_PID"
    for _ in $(seq 100); do kill -0 "$PALD_PID" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$PALD_PID" 2>/dev/null && kill -KILL "$PALD_PID"
  fi
  if [[ -n $NOTARY_PID ]] && kill -0 "$NOTARY_PID" 2>/dev/null; then
    kill -TERM "$NOTARY_PID"
    for _ in $(seq 50); do kill -0 "$NOTARY_PID" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$NOTARY_PID" 2>/dev/null && kill -KILL "$NOTARY_PID"
  fi
  # pald leaves the shared bind mount under its mountpoint (for rslave containers); remove it.
  while findmnt -rn -M "$MNT" >/dev/null 2>&1; do umount -l "$MNT" || break; done
  if [[ -n $DOCKERD_PID ]] && kill -0 "$DOCKERD_PID" 2>/dev/null; then
    kill -TERM "$DOCKERD_PID"
    for _ in $(seq 200); do kill -0 "$DOCKERD_PID" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$DOCKERD_PID" 2>/dev/null && kill -KILL "$DOCKERD_PID"
    # the private dockerd's exec root may hold mounts of its own
    grep -o " $WORK/[^ ]*" /proc/self/mountinfo | sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done
  fi
  rm -rf "$WORK"
  echo "done."
  exit $status
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say "Docker"
if docker info >/dev/null 2>&1; then
  echo "using the Docker engine at ${DOCKER_HOST:-unix:///var/run/docker.sock}"
  DOCKER_HOST_URL=${DOCKER_HOST:-unix:///var/run/docker.sock}
else
  echo "no Docker engine reachable: starting a private dockerd in $WORK/docker"
  mkdir -p "$WORK/docker/data" "$WORK/docker/exec"
  dockerd --data-root "$WORK/docker/data" --exec-root "$WORK/docker/exec" \
    --host "unix://$WORK/docker/docker.sock" --pidfile "$WORK/docker/docker.pid" \
    --iptables=false --ip6tables=false --bridge=none >"$WORK/docker/dockerd.log" 2>&1 &
  DOCKERD_PID=$!
  DOCKER_HOST_URL="unix://$WORK/docker/docker.sock"
  DOCKER_ARGS=(-H "$DOCKER_HOST_URL")
  for _ in $(seq 300); do dk info >/dev/null 2>&1 && break; kill -0 "$DOCKERD_PID" 2>/dev/null || break; sleep 0.1; done
  dk info >/dev/null 2>&1 || { echo "demo: dockerd did not come up:"; tail -20 "$WORK/docker/dockerd.log"; exit 1; }
fi

say "Building two tiny images from busybox-static (no registry needed)"
ROOTFS=$WORK/rootfs
mkdir -p "$ROOTFS/bin" "$ROOTFS/run/pal" "$ROOTFS/tmp" "$ROOTFS/proc" "$ROOTFS/sys" "$ROOTFS/dev" "$ROOTFS/etc"
cp /bin/busybox "$ROOTFS/bin/busybox"
for applet in $("$ROOTFS/bin/busybox" --list); do [[ -e $ROOTFS/bin/$applet ]] || ln -s busybox "$ROOTFS/bin/$applet"; done
TAG=$(basename "$WORK" | tr 'A-Z' 'a-z' | tr -c 'a-z0-9\n' '-')
TRUST=${PAL_DEMO_TRUST:-notary}
if [[ $TRUST == notary ]] && ! command -v notary-server >/dev/null; then
  echo "demo: notary-server not installed: falling back to trust.mode none"
  TRUST=none
fi
GUN=registry.example.com/pal-demo/app
APP=$GUN:$TAG
OTHER=registry.example.com/pal-demo/other:$TAG
tar -C "$ROOTFS" -c . | dk import --change 'LABEL pal.labels=demo' --change 'CMD ["sh"]' - "$APP" >/dev/null
IMAGES+=("$APP")
if [[ $TRUST == notary ]]; then
  # It claims the label too, but nobody signed it: in notary mode a claim grants nothing.
  tar -C "$ROOTFS" -c . | dk import --change 'LABEL pal.labels=demo' --change 'CMD ["sh"]' - "$OTHER" >/dev/null
  echo "$APP   image config label pal.labels=demo (will be signed)"
  echo "$OTHER image config label pal.labels=demo (NOT signed)"
else
  tar -C "$ROOTFS" -c . | dk import --change 'CMD ["sh"]' - "$OTHER" >/dev/null
  echo "$APP   image config label pal.labels=demo"
  echo "$OTHER (no labels)"
fi
IMAGES+=("$OTHER")

TRUST_YAML="trust:
  mode: none"
if [[ $TRUST == notary ]]; then
  say "Signing the labelled image's id with a throwaway notary-server"
  PKI=$WORK/notary
  mkdir -p "$PKI"
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$PKI/ca.key" -out "$PKI/ca.pem" -days 1 -subj '/CN=pal demo CA' 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -keyout "$PKI/server.key" -out "$PKI/server.csr" -subj '/CN=notary-server' 2>/dev/null
  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >"$PKI/ext.cnf"
  openssl x509 -req -in "$PKI/server.csr" -CA "$PKI/ca.pem" -CAkey "$PKI/ca.key" -CAcreateserial -days 1 \
    -extfile "$PKI/ext.cnf" -out "$PKI/server.crt" 2>/dev/null
  NOTARY_PORT=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
  cat >"$PKI/server.json" <<JSON
{"server":{"http_addr":"127.0.0.1:$NOTARY_PORT","tls_cert_file":"$PKI/server.crt","tls_key_file":"$PKI/server.key"},
 "trust_service":{"type":"local"},"storage":{"backend":"memory"},"logging":{"level":"error"}}
JSON
  notary-server -config "$PKI/server.json" >"$PKI/server.log" 2>&1 &
  NOTARY_PID=$!
  NOTARY_URL=https://127.0.0.1:$NOTARY_PORT
  for _ in $(seq 100); do curl -sf --cacert "$PKI/ca.pem" "$NOTARY_URL/_notary_server/health" >/dev/null && break; sleep 0.1; done
  curl -sf --cacert "$PKI/ca.pem" "$NOTARY_URL/_notary_server/health" >/dev/null || { echo "demo: notary-server did not start"; cat "$PKI/server.log"; exit 1; }
  export NOTARY_ROOT_PASSPHRASE=pal-demo NOTARY_TARGETS_PASSPHRASE=pal-demo NOTARY_SNAPSHOT_PASSPHRASE=pal-demo
  N=(notary -s "$NOTARY_URL" --tlscacert "$PKI/ca.pem" -d "$PKI/trust")
  run "${N[@]}" init "$GUN" -p >/dev/null
  HEX=$(dk image inspect --format '{{.Id}}' "$APP" | sed 's/^sha256://')
  printf '{"pal":{"labels":["demo"]}}' >"$PKI/pal.json"   # canonical JSON, as notary requires
  run "${N[@]}" addhash "$GUN" "$TAG" 1 --sha256 "$HEX" --custom "$PKI/pal.json" -p
  run "${N[@]}" lookup "$GUN" "$TAG"
  ROOT_KEY=$("${N[@]}" key list | awk '$1=="root"{print $2}')
  echo "pinned root key of $GUN: $ROOT_KEY"
  TRUST_YAML="trust:
  mode: notary
  notary:
    server: $NOTARY_URL
    ca: $PKI/ca.pem
    collections:
      - gun: registry.example.com/pal-demo/*
        root_keys: [$ROOT_KEY]
        grants: [demo]"
fi

say "A host key pair, and a secret sealed for label demo"
mkdir -p "$ETC/keys"
run pal keygen --out "$ETC/keys" --name demo-host
SECRET="s3cr3t-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
echo "\$ printf %s \"\$SECRET\" | pal seal --name db-password --label demo --key $ETC/keys/demo-host.pub.asc --manifest $ETC/secrets.yaml"
printf %s "$SECRET" | pal seal --name db-password --label demo --key "$ETC/keys/demo-host.pub.asc" --manifest "$ETC/secrets.yaml"
echo "--- $ETC/secrets.yaml (ciphertext and policy, never plaintext):"
cat "$ETC/secrets.yaml"

say "Starting pald"
cat >"$ETC/pald.yaml" <<YAML
mountpoint: $MNT
manifest: $ETC/secrets.yaml
keys: $ETC/keys
docker:
  host: $DOCKER_HOST_URL
$TRUST_YAML
admin:
  socket: $WORK/run/pald/admin.sock
audit:
  path: $WORK/log/audit.log
YAML
if [[ $TRUST == none ]]; then
  echo "!! trust.mode: none — DEVELOPMENT MODE: container labels are NOT verified by signatures here."
else
  echo "trust.mode: notary — labels only from targets signed under the pinned root key"
fi
echo "--- $ETC/pald.yaml:"
cat "$ETC/pald.yaml"
mkdir -p "$MNT"
node "$REPO/dist/src/cli/pald.js" --config "$ETC/pald.yaml" >"$WORK/pald.log" 2>&1 &
PALD_PID=$!
for _ in $(seq 300); do grep -q 'ready on' "$WORK/pald.log" && break; kill -0 "$PALD_PID" 2>/dev/null || break; sleep 0.1; done
grep -q 'ready on' "$WORK/pald.log" || { echo "demo: pald did not start:"; cat "$WORK/pald.log"; exit 1; }
cat "$WORK/pald.log"
ADMIN=(--admin-socket "$WORK/run/pald/admin.sock")

say "The labelled container reads the secret from /run/pal"
dk run -d --name "pal-demo-app-$TAG" --network none -v "$MNT:/run/pal:ro,rslave" "$APP" sleep 600 >/dev/null
CONTAINERS+=("pal-demo-app-$TAG")
run docker "${DOCKER_ARGS[@]}" exec "pal-demo-app-$TAG" ls -l /run/pal
run docker "${DOCKER_ARGS[@]}" exec "pal-demo-app-$TAG" cat /run/pal/db-password; echo
run docker "${DOCKER_ARGS[@]}" exec "pal-demo-app-$TAG" cat /run/pal/.pal/whoami.json

say "The unlabelled container gets nothing"
dk run -d --name "pal-demo-other-$TAG" --network none -v "$MNT:/run/pal:ro,rslave" "$OTHER" sleep 600 >/dev/null
CONTAINERS+=("pal-demo-other-$TAG")
run docker "${DOCKER_ARGS[@]}" exec "pal-demo-other-$TAG" ls -la /run/pal
run docker "${DOCKER_ARGS[@]}" exec "pal-demo-other-$TAG" cat /run/pal/db-password || echo "(denied, as it should be)"

say "Inspecting pald"
run pal status "${ADMIN[@]}"
run pal secrets "${ADMIN[@]}"
run pal containers "${ADMIN[@]}"
run pal audit "${ADMIN[@]}"
run pal explain "pal-demo-app-$TAG" db-password "${ADMIN[@]}"
run pal explain "pal-demo-other-$TAG" db-password "${ADMIN[@]}" || true
