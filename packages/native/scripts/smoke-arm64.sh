#!/usr/bin/env bash
# Loads prebuilds/linux-arm64 with an arm64 Node under qemu-user and runs scripts/smoke-prebuild.mjs
# (addon load, socket(IPPROTO_MPTCP) probe, MPTCP echo through listen()/connect()). qemu-user passes the
# syscalls to this machine's kernel, so the MPTCP sockets are real.
#
# The arm64 Node is Debian 12's nodejs:arm64, unpacked with dpkg-deb -x into a private sysroot together
# with the arm64 libraries it links — NOT installed through dpkg: installing nodejs:arm64 (or anything that
# depends on nodejs:any) next to an amd64 Node replaces the host's /usr/bin/node.
# Needs: qemu-user-static, and `dpkg --add-architecture arm64 && apt-get update` (done here when missing)
# so apt-get download can fetch :arm64 packages.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
sysroot="${ARM64_SYSROOT:-${XDG_CACHE_HOME:-$HOME/.cache}/mptcp-native/arm64-sysroot}"
debs=(nodejs libnode108 libc6 libgcc-s1 libstdc++6 libuv1 libicu72 libssl3 zlib1g libbrotli1 libc-ares2
  libnghttp2-14)
# Arch-independent modules Debian's node loads from /usr/share/nodejs (CJS named exports, fetch).
alldebs=(node-cjs-module-lexer node-undici node-busboy node-acorn node-xtend)

command -v qemu-aarch64-static >/dev/null || { echo "smoke-arm64: qemu-aarch64-static missing (apt-get install qemu-user-static)" >&2; exit 2; }

if [ ! -x "$sysroot/usr/bin/node" ]; then
  if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    dpkg --add-architecture arm64
    apt-get update -qq
  fi
  dl="$(mktemp -d)"
  trap 'rm -rf "$dl"' EXIT
  (cd "$dl" && apt-get download -qq "${debs[@]/%/:arm64}" "${alldebs[@]}")
  mkdir -p "$sysroot"
  for d in "$dl"/*.deb; do dpkg-deb -x "$d" "$sysroot"; done
  echo "smoke-arm64: sysroot in $sysroot ($(ls "$dl" | wc -l) packages)"
fi

node_arm64=("qemu-aarch64-static" -L "$sysroot" "$sysroot/usr/bin/node")
echo "smoke-arm64: $("${node_arm64[@]}" -p 'process.arch + " node " + process.version')"
file -b "$here/../prebuilds/linux-arm64/"*.node
exec "${node_arm64[@]}" "$here/smoke-prebuild.mjs"
