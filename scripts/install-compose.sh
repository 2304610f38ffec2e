#!/usr/bin/env bash
# Installs what `make compose-images` and `make compose-test` need to run
# docker-compose.yml for real under podman (see docs/deploy.md "Compose under podman"):
#   podman, runc (crun refuses hybrid cgroup hierarchies), netavark and aardvark-dns
#   (static addresses outside ip_range and DNS by service name, which the CNI
#   backend lacks), debootstrap (the local base image), docker-compose (v1, drives
#   the compose file through podman's Docker API), iproute2 (`ip`: the routes and
#   addresses a run's /24 must not overlap, tests/compose/subnet.py).
# Idempotent: apt runs only when a program is missing. Needs root: the compose
# topology uses fixed addresses and published ports, which rootless podman lacks.
set -euo pipefail

say() { printf 'install-compose: %s\n' "$*" >&2; }
die() { printf 'install-compose: ERROR: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (rootful podman): sudo make compose-test"

# program -> Debian package
declare -A PACKAGES=(
  [podman]=podman
  [runc]=runc
  [netavark]=netavark
  [aardvark-dns]=aardvark-dns
  [debootstrap]=debootstrap
  [docker-compose]=docker-compose
  [ip]=iproute2
)
# netavark and aardvark-dns live outside PATH.
found() {
  command -v "$1" >/dev/null 2>&1 || [ -x "/usr/lib/podman/$1" ] || [ -x "/usr/libexec/podman/$1" ]
}

missing=()
for program in "${!PACKAGES[@]}"; do
  found "$program" || missing+=("${PACKAGES[$program]}")
done
[ "${#missing[@]}" -eq 0 ] && exit 0

command -v apt-get >/dev/null 2>&1 \
  || die "apt-get not found: install ${missing[*]} with your package manager and re-run"
say "installing ${missing[*]}"
apt-get -o DPkg::Lock::Timeout=600 update -qq || die "apt-get update failed"
env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
  --no-install-recommends "${missing[@]}" || die "apt-get install ${missing[*]} failed"
for program in "${!PACKAGES[@]}"; do
  found "$program" || die "$program still missing after installing ${PACKAGES[$program]}"
done
