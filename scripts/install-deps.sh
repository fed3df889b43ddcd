#!/usr/bin/env bash
# Installs what Causeway needs from Debian 12's archive, and nothing that is
# already there. Idempotent and non-interactive; run as root (or with sudo).
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config g++   # toolchain
  libck-dev                                          # Concurrency Kit (engine queues)
  libcmocka-dev                                      # unit tests
  libbenchmark-dev                                   # bench/ (Google Benchmark)
  clang libclang-rt-14-dev                           # libFuzzer targets, sanitizers
  libjansson-dev                                     # causeway stress --json
  gnuplot-nox                                        # causeway bench plots
  libzmq3-dev                                        # causeway node: replication links
  libmicrohttpd-dev                                  # causeway node: the HTTP API
  libcurl4-gnutls-dev                                # HTTP client of tests, cluster --scenario, bench
  curl                                               # the node tests' HTTP requests (tests/cli)
  liblmdb-dev                                        # causeway node --data: durable state
  faketime                                           # tests/cli/clock_jump.sh: a wall-clock jump on one node
  iproute2 nftables                                  # tests/cli/netns.sh: namespaces, veth pairs, drop rules
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: run as root to install: ${missing[*]}" >&2; exit 1; }
  sudo=sudo
fi
echo "install-deps: installing ${missing[*]}" >&2
$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
