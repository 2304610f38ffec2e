#!/usr/bin/env bash
# Installs the system programs haws runs for real: Consul and HAProxy; Node.js
# (npm builds clients/js) and Chromium (the browser tests) from Debian too; and the
# iproute2/iptables the network fault tests use.
# nats-server comes from the PyPI wheel into the venv (see install-python.sh).
# Idempotent: each step is skipped when its program is already on PATH.
set -euo pipefail

say() { printf 'install: %s\n' "$*" >&2; }
die() { printf 'install: ERROR: %s\n' "$*" >&2; exit 1; }

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 && SUDO="sudo"
fi

manual_help() {
  cat >&2 <<'MSG'
install: on a system without Debian's apt, install these by hand and re-run:
  - consul  (HashiCorp Consul 1.8 or later, `consul` on PATH)
  - haproxy (2.2 or later, `haproxy` on PATH; optional for `make run`, needed by its tests)
  - docker-compose (v1, only to validate docker-compose.yml in the tests)
  - node and npm (Node.js 18 or later, to build clients/js)
  - chromium (`chromium` on PATH, for the browser tests)
  - iproute2 and iptables (`ip`, `iptables`: the network fault tests, run as root)
MSG
}

apt_updated=0
apt_update() {
  if [ "$apt_updated" -eq 0 ]; then
    $SUDO apt-get update -qq || die "apt-get update failed"
    apt_updated=1
  fi
}

# debian_uri: the Debian archive URI this machine already uses; never hard-coded.
# shellcheck source=scripts/debian-source.sh
. "$(dirname "$0")/debian-source.sh"

install_consul() {
  if command -v consul >/dev/null 2>&1; then
    say "consul already on PATH: $(command -v consul)"
    return
  fi
  local uri
  uri=$(debian_uri)
  [ -n "$uri" ] || { manual_help; die "no Debian apt source found to take consul from"; }
  say "adding the bullseye suite of $uri, pinned low, for consul only"
  printf 'deb %s bullseye main\n' "$uri" | $SUDO tee /etc/apt/sources.list.d/haws-bullseye.list >/dev/null
  # Priority 100 keeps every installed package on its own suite; only consul,
  # which the machine's own suites do not carry, comes from bullseye.
  $SUDO tee /etc/apt/preferences.d/haws-bullseye >/dev/null <<'PIN'
Package: *
Pin: release n=bullseye
Pin-Priority: 100
PIN
  apt_updated=0
  apt_update
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends consul \
    || die "apt-get install consul failed"
}

install_haproxy() {
  if command -v haproxy >/dev/null 2>&1; then
    say "haproxy already on PATH: $(command -v haproxy)"
    return
  fi
  apt_update
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends haproxy \
    || die "apt-get install haproxy failed"
  # The package starts a system-wide haproxy on Debian; haws starts its own.
  if command -v systemctl >/dev/null 2>&1; then $SUDO systemctl disable --now haproxy >/dev/null 2>&1 || true; fi
}

install_compose_checker() {
  # Debian's docker-compose (v1) validates docker-compose.yml offline, with no engine.
  if command -v docker-compose >/dev/null 2>&1; then
    return
  fi
  apt_update
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker-compose \
    || die "apt-get install docker-compose failed"
}

install_apt_program() {
  # $1: the program on PATH; the rest: the Debian packages that provide it.
  local program=$1
  shift
  if command -v "$program" >/dev/null 2>&1; then
    return
  fi
  apt_update
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" \
    || die "apt-get install $* failed"
}

if ! command -v apt-get >/dev/null 2>&1; then
  if command -v consul >/dev/null 2>&1 && command -v haproxy >/dev/null 2>&1 \
     && command -v docker-compose >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 \
     && command -v chromium >/dev/null 2>&1 && command -v ip >/dev/null 2>&1 \
     && command -v iptables >/dev/null 2>&1; then
    exit 0
  fi
  manual_help
  die "apt-get not found"
fi
install_consul
install_haproxy
install_compose_checker
install_apt_program npm nodejs npm
install_apt_program chromium chromium
# The network fault tests (tests/e2e/faults) build namespaces, veth pairs and a bridge
# with `ip`, and cut links with `iptables` inside their own namespaces.
install_apt_program ip iproute2
install_apt_program iptables iptables
command -v consul >/dev/null 2>&1 || die "consul still not on PATH"
say "consul: $(consul version | head -n 1)"
command -v haproxy >/dev/null 2>&1 && say "haproxy: $(haproxy -v | head -n 1)"
command -v chromium >/dev/null 2>&1 && say "chromium: $(chromium --version 2>/dev/null | head -n 1)"
exit 0
