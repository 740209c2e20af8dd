#!/usr/bin/env bash
# Idempotent set-up for a fresh Debian 12 machine (root): system packages,
# npm dependencies, the eBPF objects and the TypeScript build. Each step is
# skipped when its inputs have not changed, so `npm test` stays fast on reruns.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\033[1m[setup]\033[0m %s\n' "$*" >&2; }

# 1. System packages (only the missing ones; `apt-get update` at most once).
pkgs=(clang llvm libbpf1 libbpf-dev bpftool iproute2 iputils-ping gnupg git openssh-client make util-linux linux-libc-dev)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  if [ "$(id -u)" != 0 ]; then
    say "missing packages: ${missing[*]} (run as root, or install them yourself)"; exit 1
  fi
  say "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# 2. bpffs, where the agent pins chains (absent on some minimal machines).
if [ "$(id -u)" = 0 ] && ! mount | grep -q ' /sys/fs/bpf type bpf'; then
  mkdir -p /sys/fs/bpf && mount -t bpf bpf /sys/fs/bpf 2>/dev/null || say "could not mount bpffs (kernel tests will report it)"
fi

# 3. npm dependencies, reinstalled only when the lock file changes.
lock_sum=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -d node_modules ] || [ "$(cat node_modules/.bpfleet-lock 2>/dev/null)" != "$lock_sum" ]; then
  say "npm ci"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$lock_sum" > node_modules/.bpfleet-lock
fi

# 4. eBPF objects (make is incremental).
say "building bpf/"
make -s -C bpf

# 5. TypeScript → dist/ (tsc is incremental through its build info).
say "compiling TypeScript"
npx tsc -p tsconfig.json
