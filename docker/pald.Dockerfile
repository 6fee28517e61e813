# pald in a container. Build from the repository root:
#
#   docker build -f docker/pald.Dockerfile -t pald .
#
# Two stages: `build` compiles the C addon (native/) and the TypeScript; the runtime stage is a
# slim Debian with node and fuse3 and nothing to compile with. Both bases are build arguments so
# that an air-gapped build can name locally made images (test/integration/docker-image.test.ts
# does: a debootstrap'ed Debian 12 with node copied in).
ARG BUILD_BASE=node:20-bookworm
ARG RUN_BASE=node:20-bookworm-slim

FROM ${BUILD_BASE} AS build
COPY docker/apt-install-missing.sh /usr/local/sbin/apt-install-missing
# The addon's build: a C compiler, make, python3 (node-gyp), pkg-config and libfuse3's headers.
RUN apt-install-missing g++ make python3 pkg-config libfuse3-dev
# node-gyp builds against the headers node's image ships, instead of downloading them.
ENV npm_config_nodedir=/usr/local
WORKDIR /src
COPY package.json package-lock.json ./
COPY native/binding.gyp native/
COPY native/src native/src
# npm ci runs the package's own install script (node-gyp rebuild --directory=native); no
# dependency's install script runs.
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src src
RUN npx tsc -p tsconfig.json \
 && npm prune --omit=dev --no-audit --no-fund \
 && chmod 755 dist/src/cli/pal.js dist/src/cli/pald.js

FROM ${RUN_BASE}
COPY docker/apt-install-missing.sh /usr/local/sbin/apt-install-missing
# libfuse3 for the addon (fuse3 brings it, and fusermount3 for an operator's `fusermount3 -u`).
RUN apt-install-missing fuse3 ca-certificates
WORKDIR /opt/pal
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules node_modules
COPY --from=build /src/dist/src dist/src
COPY --from=build /src/native/build/Release/pal_native.node native/build/Release/pal_native.node
# The holder that keeps /dev/fuse across pald restarts (docs/operations.md "Restarts"); it runs in a
# container of its own (compose.yaml: pald-holder), never in pald's, so that it outlives pald.
COPY --from=build /src/native/build/Release/pald-holder /usr/local/lib/pal/pald-holder
RUN ln -s /opt/pal/dist/src/cli/pal.js /usr/local/bin/pal \
 && ln -s /opt/pal/dist/src/cli/pald.js /usr/local/bin/pald
# pald answers SIGTERM by finishing the requests in flight and unmounting (exit 0); SIGHUP reloads.
STOPSIGNAL SIGTERM
ENTRYPOINT ["pald"]
CMD ["--config", "/etc/pal/pald.yaml"]

# Running it: exactly these privileges, and why (docker/compose.yaml says the same).
#
#   docker run -d --name pald --restart unless-stopped \
#     --pid=host \
#         The kernel reports each FUSE caller's pid in pald's pid namespace, and pald maps it to a
#         container through /proc/<pid>/cgroup: both only mean something in the host's pid
#         namespace. In any other pald warns at start (log, `pal status`) and denies every caller.
#     --device /dev/fuse \
#         The FUSE device: the only device pald opens.
#     --cap-drop ALL --cap-add SYS_ADMIN \
#         mount(2) and umount2(2) need CAP_SYS_ADMIN: the FUSE session and the bind mounts that
#         stack it onto /run/pal. Nothing else is needed (pald runs as root in the container, so
#         it reads its root-owned files and every process's /proc/<pid>/cgroup without
#         CAP_DAC_*; the docker-image test runs pald with exactly this set). Not --privileged:
#         that would add every other capability, every host device, and switch off seccomp and
#         AppArmor, for nothing pald uses.
#     --security-opt apparmor=unconfined \
#         Only on hosts with AppArmor (Ubuntu, Debian with AppArmor enabled): the docker-default
#         profile denies mount(2) even with CAP_SYS_ADMIN. Docker's default seccomp profile stays
#         on: it allows mount(2) to a container that holds CAP_SYS_ADMIN.
#     --ulimit memlock=134217728 \
#         Plaintext is held in mlock'ed memory; Docker's default RLIMIT_MEMLOCK (64 KiB) is too
#         small. 128 MiB covers limits.locked_bytes (64 MiB by default) with room; raise it with
#         that limit. (A limit instead of CAP_IPC_LOCK: pald stays bounded even if it had a bug.)
#         dockerd must be able to raise the hard limit (root with CAP_SYS_RESOURCE, as usual); where
#         it cannot, use at most dockerd's own limit and set limits.locked_bytes below it, or use
#         --cap-add IPC_LOCK instead.
#     -v /var/run/docker.sock:/var/run/docker.sock:ro \
#         The Docker Engine API: pald inspects containers and images and follows events (GET
#         requests only). ":ro" stops the container from replacing or removing the socket file;
#         it does not limit the API (connecting to a socket is not a write to the file), so treat
#         pald's container as trusted as the Docker daemon itself.
#     -v /run/pal:/run/pal:rshared \
#         The mountpoint, shared both ways: pald's FUSE mount (and every later pald's) propagates
#         back to the host's /run/pal and from there into application containers bound with
#         `-v /run/pal:/run/pal:ro,rslave`. Docker requires the host's /run/pal to be on a shared
#         mount: true on systemd hosts; elsewhere run once
#         `mkdir -p /run/pal && mount --bind /run/pal /run/pal && mount --make-shared /run/pal`.
#     -v /etc/pal:/etc/pal:ro \
#         pald.yaml, the manifest, ciphertexts and host keys: pald never writes them. Owned by root,
#         not writable by group or others, private keys 0600 (SPEC File safety: checked at start).
#     -v /var/lib/pal:/var/lib/pal \
#         state_dir: trust metadata versions seen (rollback protection) must survive restarts.
#     -v /var/log/pal:/var/log/pal \
#         The audit log (audit.path); rotate it on the host and `docker kill -s HUP pald`.
#     -v /run/pald:/run/pald \
#         The admin socket (admin.sock, root only via SO_PEERCRED), so that the host's `pal status`
#         reaches it; pald also mounts its FUSE session privately under /run/pald/fs.
#     pald
#
# Network: none is needed for Docker-only nodes with `trust.mode: none`; a Notary server, a Red
# October server or `metrics.listen` on the host's loopback need the matching network (e.g.
# --network host for metrics on 127.0.0.1).
