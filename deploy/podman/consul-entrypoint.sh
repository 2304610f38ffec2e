#!/bin/bash
# As the official image's entrypoint: a leading flag or a consul subcommand runs
# consul; `agent` gets -data-dir and -config-dir; consul itself runs as user consul.
set -e
if [ "${1:0:1}" = '-' ]; then
  set -- consul "$@"
fi
if [ "$1" = 'agent' ]; then
  shift
  set -- consul agent -data-dir="$CONSUL_DATA_DIR" -config-dir="$CONSUL_CONFIG_DIR" "$@"
elif [ "$1" = 'version' ] || consul --help "$1" 2>&1 | grep -q "consul $1"; then
  set -- consul "$@"
fi
# As the official image: CONSUL_LOCAL_CONFIG (JSON, compose's ACL settings) becomes a
# config file. Consul before 1.11 (Debian's 1.8) calls the first ACL token
# "master", not "initial_management".
if [ -n "${CONSUL_LOCAL_CONFIG:-}" ]; then
  config=$CONSUL_LOCAL_CONFIG
  if consul version | grep -qE 'Consul v1\.([0-9]|10)\.'; then
    config=${config//\"initial_management\"/\"master\"}
  fi
  printf '%s\n' "$config" > "$CONSUL_CONFIG_DIR/local.json"
fi
if [ "$1" = 'consul' ] && [ "$(id -u)" = '0' ]; then
  chown -R consul:consul "$CONSUL_DATA_DIR" "$CONSUL_CONFIG_DIR" 2>/dev/null || true
  set -- setpriv --reuid consul --regid consul --init-groups "$@"
fi
exec "$@"
