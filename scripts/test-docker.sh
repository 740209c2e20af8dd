#!/usr/bin/env bash
# Proves the Dockerfile with a real build on a machine that cannot reach a
# container registry: starts a private dockerd, builds a bookworm base image
# from Debian packages (debootstrap) plus this machine's Node and npm, builds
# the project's image on it, runs the image's CLI against a Git repository made
# from examples/repo, and removes everything it created — also on failure.
#
#   sudo npm run test:docker            (root: dockerd, debootstrap, mounts)
#
# Environment: BPFLEET_DEBIAN_MIRROR overrides the mirror found in apt's
# sources; KEEP=1 keeps the temp dir (and stops dockerd) for inspection.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
now_ms() { echo $(($(date +%s%N) / 1000000)); }
T0=$(now_ms)
# Seconds since $1 (a now_ms value), one decimal.
elapsed() { local d=$(($(now_ms) - $1)); printf '%d.%d' $((d / 1000)) $((d % 1000 / 100)); }
say() { printf '\033[1m[test-docker %7ss]\033[0m %s\n' "$(elapsed "$T0")" "$*" >&2; }
die() { say "FAIL: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (starts dockerd, runs debootstrap)"

# 1. Tools: Debian's dockerd and debootstrap, installed only when missing.
need=()
command -v dockerd >/dev/null || need+=(docker.io)
command -v debootstrap >/dev/null || need+=(debootstrap)
if ((${#need[@]})); then
  printf '[test-docker] installing %s\n' "${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# The client from the same package as dockerd (API versions agree); the
# classic builder needs no buildx plugin.
DOCKER=$(command -v /usr/bin/docker || command -v docker)
export DOCKER_BUILDKIT=0

# The same Debian mirror as this machine's apt (the build stage apt-gets from it).
mirror() {
  local uris
  uris=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list 2>/dev/null |
    grep -Eo 'https?://[^ ]+/debian/?( |$)' | grep -v security | tr -d ' ' || true)
  echo "${uris%%$'\n'*}"
}
MIRROR=${BPFLEET_DEBIAN_MIRROR:-$(mirror)}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
MIRROR=${MIRROR%/}

# 2. Private dockerd: own socket, data-root and exec-root under one temp dir,
#    no bridge and no iptables, so nothing on the host changes.
WORK=$(mktemp -d /tmp/bpfleet-docker.XXXXXX)
export DOCKER_HOST="unix://$WORK/docker.sock"
DOCKERD_PID=
cleanup() {
  local rc=$?
  set +e
  if [ -n "$DOCKERD_PID" ] && kill -0 "$DOCKERD_PID" 2>/dev/null; then
    "$DOCKER" rmi -f bpfleet:test bpfleet-base:local >/dev/null 2>&1
    kill -TERM "$DOCKERD_PID"
    for _ in $(seq 1 100); do kill -0 "$DOCKERD_PID" 2>/dev/null || break; sleep 0.2; done
    kill -0 "$DOCKERD_PID" 2>/dev/null && kill -KILL "$DOCKERD_PID"
    wait "$DOCKERD_PID" 2>/dev/null
  fi
  # Anything dockerd left mounted under our dir (overlay layers, netns files).
  grep -o " $WORK[^ ]*" /proc/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null
  if ((rc)); then say "failed (exit $rc); dockerd log tail:"; tail -n 20 "$WORK/dockerd.log" >&2 2>/dev/null; fi
  if [ "${KEEP:-}" = 1 ]; then say "kept $WORK"; else rm -rf "$WORK"; fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say "dockerd on $DOCKER_HOST (mirror $MIRROR)"
dockerd --host "$DOCKER_HOST" --data-root "$WORK/data" --exec-root "$WORK/exec" \
  --pidfile "$WORK/docker.pid" --bridge=none --iptables=false --ip6tables=false \
  >"$WORK/dockerd.log" 2>&1 &
DOCKERD_PID=$!
for _ in $(seq 1 150); do
  "$DOCKER" version >/dev/null 2>&1 && break
  kill -0 "$DOCKERD_PID" 2>/dev/null || die "dockerd exited: $(tail -n 5 "$WORK/dockerd.log")"
  sleep 0.2
done
"$DOCKER" version >/dev/null || die "dockerd did not answer within 30 s"

# 3. Base image: minimal bookworm + this machine's Node and npm.
t=$(now_ms)
say "debootstrap bookworm (minbase)"
debootstrap --variant=minbase bookworm "$WORK/rootfs" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 ||
  die "debootstrap failed: $(tail -n 5 "$WORK/debootstrap.log")"
R=$WORK/rootfs
{
  echo "deb $MIRROR bookworm main"
  echo "deb $MIRROR bookworm-updates main"
} >"$R/etc/apt/sources.list"
node_bin=$(readlink -f "$(command -v node)")
npm_dir=$(dirname "$node_bin")/../lib/node_modules/npm
[ -f "$npm_dir/bin/npm-cli.js" ] || die "npm not found beside node at $npm_dir"
install -m 0755 "$node_bin" "$R/usr/local/bin/node"
mkdir -p "$R/usr/local/lib/node_modules"
cp -a "$npm_dir" "$R/usr/local/lib/node_modules/npm"
ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$R/usr/local/bin/npm"
ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$R/usr/local/bin/npx"
# Trust what this machine trusts: locally added CAs (e.g. a TLS-inspecting
# egress proxy in front of the npm registry) go where Debian's ca-certificates
# picks them up, and Node is pointed at the resulting bundle.
change=()
if compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null; then
  mkdir -p "$R/usr/local/share/ca-certificates" "$R/etc/ssl/certs"
  cp /usr/local/share/ca-certificates/*.crt "$R/usr/local/share/ca-certificates/"
  cp /etc/ssl/certs/ca-certificates.crt "$R/etc/ssl/certs/ca-certificates.crt"
  change=(--change "ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt")
fi
rm -rf "$R"/var/cache/apt/archives/*.deb "$R"/var/lib/apt/lists/*
tar -C "$R" -c . | "$DOCKER" import "${change[@]}" - bpfleet-base:local >/dev/null
base_s=$(elapsed "$t")
"$DOCKER" run --rm --network=none bpfleet-base:local node --version >/dev/null || die "node does not run in the base image"
say "base image in ${base_s}s ($(node --version), npm $(node "$npm_dir/bin/npm-cli.js" --version))"

# 4. The project's image, exactly as a user builds it, on the local base.
t=$(now_ms)
say "docker build"
"$DOCKER" build --network=host \
  --build-arg BASE_IMAGE=bpfleet-base:local --build-arg BUILD_IMAGE=bpfleet-base:local \
  -t bpfleet:test "$ROOT" >"$WORK/build.log" 2>&1 || { tail -n 40 "$WORK/build.log" >&2; die "docker build failed"; }
build_s=$(elapsed "$t")
size=$("$DOCKER" image inspect -f '{{.Size}}' bpfleet:test)
base_size=$("$DOCKER" image inspect -f '{{.Size}}' bpfleet-base:local)
say "image built in ${build_s}s: $((size / 1000000)) MB (base $((base_size / 1000000)) MB); largest layers:"
"$DOCKER" history --format '{{.Size}}\t{{.CreatedBy}}' bpfleet:test | sort -h -r | head -n 6 | cut -c1-110 >&2

# 5. The image's CLI: help, and validate on a real Git repository.
run() { "$DOCKER" run --rm --network=none "$@"; }
out=$(run bpfleet:test --help)
for c in validate plan verify reconciler agent status; do
  grep -q "^  $c" <<<"$out" || die "bpfleet --help does not list '$c'"
done
run bpfleet:test reconciler --help | grep -q -- '--config' || die "reconciler --help has no --config"
run bpfleet:test agent --help | grep -q -- '--config' || die "agent --help has no --config"
say "--help lists every command"

cp -a "$ROOT/examples/repo" "$WORK/repo"
git -C "$WORK/repo" init -q -b main
git -C "$WORK/repo" add -A
git -C "$WORK/repo" -c user.name=test -c user.email=test@bpfleet.invalid -c commit.gpgsign=false commit -q -m "example fleet"
head=$(git -C "$WORK/repo" rev-parse HEAD)
out=$(run -v "$WORK/repo:/repo:ro" bpfleet:test validate --repo /repo --rev HEAD) || die "validate failed: $out"
grep -q "^valid: ${head:0:12}" <<<"$out" || die "unexpected validate output: $out"
say "validate as root: $out"
# The reconciler runs unprivileged: the same command as uid 10001.
out=$(run --user 10001 -v "$WORK/repo:/repo:ro" bpfleet:test validate --repo /repo --rev HEAD --json) || die "validate as uid 10001 failed: $out"
grep -q '"valid": *true' <<<"$out" || die "unexpected validate --json output as uid 10001: $out"
say "validate as uid 10001: valid"
# A config that is not valid fails with the schema's reason, not a crash.
printf 'host: edge-1\n' >"$WORK/bad-agent.yaml"
if out=$(run -v "$WORK/bad-agent.yaml:/etc/bpfleet/agent.yaml:ro" bpfleet:test agent --config /etc/bpfleet/agent.yaml 2>&1); then
  die "agent accepted an incomplete config"
fi
grep -qi 'reconcilerUrls' <<<"$out" || die "agent config error does not name the missing field: $out"
say "agent --config rejects an incomplete config by field"

say "PASS: build ${build_s}s, image $((size / 1000000)) MB, base ${base_s}s, total $(elapsed "$T0")s"
