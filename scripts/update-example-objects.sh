#!/usr/bin/env bash
# Copies the example programs built from bpf/ into examples/repo/objects and
# re-pins their sha256 in the Program manifests. The objects are committed on
# purpose: a fleet repository pins exact bytes, and another clang would build
# other bytes.
set -euo pipefail
cd "$(dirname "$0")/.."
make -s -C bpf
for name in blocklist ratelimit counter; do
  cp "bpf/build/$name.bpf.o" "examples/repo/objects/$name.bpf.o"
  sum=$(sha256sum "examples/repo/objects/$name.bpf.o" | cut -d' ' -f1)
  for manifest in examples/repo/programs/"$name"/*.yaml; do
    sed -i -E "s/(sha256: )[0-9a-f]{64}/\1$sum/" "$manifest"
  done
  echo "$name: $sum"
done
