#!/usr/bin/env bash
# docker-compose.yml run for real, with podman and podman-compose from Debian, on a
# machine that cannot pull images (only Debian's mirror and the npm registry are
# reachable). Not part of `npm test`: it needs root, installs packages and takes minutes.
#
#   bash e2e/compose-podman.sh            # from the repository, as root
#
# What it does, and prints the time of each step:
#  1. apt-get install podman podman-compose runc debootstrap (if missing).
#  2. A stand-in for node:20-bookworm-slim: Debian bookworm (debootstrap --variant=minbase)
#     plus this machine's node and npm, a `node` user (uid 1000) and this machine's CA
#     bundle (outbound TLS here is re-signed), imported as localhost/apptrace-base.
#     Built once; later runs reuse it.
#  3. podman-compose build with NODE_IMAGE pointing at it, then up -d.
#  4. Through the published proxy (127.0.0.1:8080): the status says the profiler is
#     attached to app:9229; requests to the guestbook leave records with `requestLog`;
#     the UI page answers; the inspector is not published.
#  5. down, up again: the records are still there (named volume); down -v at the end.
#
# Engine settings go in a containers.conf of our own (CONTAINERS_CONF), not /etc: crun
# refuses this machine's hybrid cgroup layout ("cgroups in hybrid mode not supported"),
# runc works; containers need nofile/nproc ulimits of 1024.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
WORK="${APPTRACE_PODMAN_WORK:-/var/tmp/apptrace-podman}"
BASE_IMAGE="${APPTRACE_BASE_IMAGE:-localhost/apptrace-base:node20-bookworm}"
PROJECT=apptracecheck
URL=http://127.0.0.1:8080
export DEBIAN_FRONTEND=noninteractive

mkdir -p "$WORK"
started=$SECONDS
step() { printf '\n== [%3ss] %s\n' "$((SECONDS - started))" "$*"; }
fail() { printf 'compose-podman: FAILED: %s\n' "$*" >&2; exit 1; }

step "1. podman, podman-compose, runc, debootstrap"
need=()
for tool in podman podman-compose runc debootstrap; do command -v "$tool" >/dev/null 2>&1 || need+=("$tool"); done
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" uidmap netavark aardvark-dns catatonit >/dev/null
fi
cat >"$WORK/containers.conf" <<'EOF'
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
[engine]
runtime = "runc"
EOF
export CONTAINERS_CONF="$WORK/containers.conf"
podman --version

step "2. base image $BASE_IMAGE (node $(node --version) on Debian bookworm)"
if ! podman image exists "$BASE_IMAGE"; then
  rootfs="$WORK/rootfs"
  rm -rf "$rootfs"
  debootstrap --variant=minbase bookworm "$rootfs" http://deb.debian.org/debian >"$WORK/debootstrap.log" 2>&1 \
    || fail "debootstrap (see $WORK/debootstrap.log)"
  node_bin="$(readlink -f "$(command -v node)")"
  npm_dir="$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")" # .../node_modules/npm
  install -m 755 "$node_bin" "$rootfs/usr/local/bin/node"
  mkdir -p "$rootfs/usr/local/lib/node_modules"
  cp -a "$npm_dir" "$rootfs/usr/local/lib/node_modules/npm"
  ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
  ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"
  chroot "$rootfs" sh -c 'groupadd --gid 1000 node && useradd --uid 1000 --gid node --shell /bin/bash --create-home node'
  ca_env=()
  if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
    mkdir -p "$rootfs/etc/ssl/certs"
    cp /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/ca-certificates.crt"
    ca_env=(--change 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt')
  fi
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin
  tar -C "$rootfs" -c . | podman import --change 'CMD ["node"]' "${ca_env[@]}" - "$BASE_IMAGE" >/dev/null
  rm -rf "$rootfs"
fi
podman run --rm "$BASE_IMAGE" node -e 'console.log("base image: node", process.version)'

compose() { (cd "$ROOT" && NODE_IMAGE="$BASE_IMAGE" podman-compose -p "$PROJECT" "$@"); }
cleanup() { compose down -v >"$WORK/down.log" 2>&1 || true; }
trap cleanup EXIT

step "3. podman-compose build, up -d"
if node -e 'require("net").connect(8080, "127.0.0.1").on("connect", () => process.exit(0)).on("error", () => process.exit(1))'; then
  fail "something already listens on 127.0.0.1:8080, which the compose file publishes; stop it first"
fi
compose down -v >/dev/null 2>&1 || true
podman rmi -f apptrace:dev >/dev/null 2>&1 || true
compose build >"$WORK/build.log" 2>&1 || { tail -30 "$WORK/build.log"; fail "build (see $WORK/build.log)"; }
step "   built"
compose up -d >"$WORK/up.log" 2>&1 || { tail -30 "$WORK/up.log"; fail "up (see $WORK/up.log)"; }

# The checks, from the host, through the published proxy only.
check() {
  URL="$URL" PHASE="$1" COUNT_FILE="$WORK/record-count" node --input-type=module - <<'EOF'
const url = process.env.URL, phase = process.env.PHASE;
const until = async (what, probe, ms = 90_000) => {
  const end = Date.now() + ms; let last = '';
  for (;;) {
    try { const v = await probe(); if (v !== undefined) return v; } catch (e) { last = e.message; }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what} ${last}`);
    await new Promise((r) => setTimeout(r, 500));
  }
};
const json = async (path) => { const r = await fetch(url + path); if (!r.ok) throw new Error(`${path}: HTTP ${r.status}`); return r.json(); };
const status = await until('the profiler attached to app:9229', async () => {
  const s = await json('/_ah/apptrace/api/status');
  return s.inspector?.state === 'connected' ? s : undefined;
});
console.log(`status: inspector ${status.inspector.address} ${status.inspector.state}, ${status.records} records, db ${status.db}`);
if (phase === 'first') {
  for (let i = 0; i < 5; i++) { const r = await fetch(url + '/'); if (r.status !== 200) throw new Error(`GET / ${r.status}`); await r.text(); }
  const signed = await fetch(url + '/sign', { method: 'POST', body: new URLSearchParams({ name: 'podman', message: 'hello' }), redirect: 'manual' });
  if (signed.status !== 303) throw new Error(`POST /sign ${signed.status}`);
  const records = await until('records covering 6 requests', async () => {
    const list = await json('/_ah/apptrace/api/records');
    return list.reduce((n, r) => n + r.requests, 0) >= 6 ? list : undefined;
  });
  const leak = records.at(-1).entries.find((e) => e.name === 'requestLog');
  if (!leak) throw new Error('no requestLog entry in the last record');
  console.log(`records: ${records.length}, requests ${records.reduce((n, r) => n + r.requests, 0)}, requestLog ${leak.dominated_size} bytes in ${leak.module_name}`);
  const page = await fetch(url + '/_ah/apptrace');
  if (page.status !== 200) throw new Error(`UI: HTTP ${page.status}`);
  console.log('UI: 200', page.headers.get('content-type'));
  (await import('node:fs')).writeFileSync(process.env.COUNT_FILE, String(records.length));
} else {
  const before = Number((await import('node:fs')).readFileSync(process.env.COUNT_FILE, 'utf8'));
  const records = await json('/_ah/apptrace/api/records');
  if (records.length < before) throw new Error(`records lost across down/up: ${before} before, ${records.length} after`);
  console.log(`after down/up: ${records.length} records (had ${before})`);
}
EOF
}

step "4. checks through the proxy"
check first || { compose logs >"$WORK/logs.txt" 2>&1; fail "checks (container logs in $WORK/logs.txt)"; }
if node -e 'require("net").connect(9229, "127.0.0.1").on("connect", () => process.exit(0)).on("error", () => process.exit(1))'; then
  fail "the inspector answers on the host's 127.0.0.1:9229"
fi
[ -z "$(podman port "${PROJECT}_app_1" 2>/dev/null)" ] || fail "the app container publishes ports: $(podman port "${PROJECT}_app_1")"
echo "inspector: not published"
# Without systemd podman cannot schedule health checks (nor does podman-compose 1.0
# wait for them); run each service's check once by hand, inside its container.
for service in app profiler proxy; do
  podman healthcheck run "${PROJECT}_${service}_1" >/dev/null || fail "the health check of $service fails"
  echo "health check: $service healthy"
done

step "5. down, up: records kept in the volume"
compose down >"$WORK/down.log" 2>&1
compose up -d >"$WORK/up2.log" 2>&1 || fail "second up (see $WORK/up2.log)"
check again || { compose logs >"$WORK/logs.txt" 2>&1; fail "checks after down/up (container logs in $WORK/logs.txt)"; }

step "passed"
