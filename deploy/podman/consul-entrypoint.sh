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
if [ "$1" = 'consul' ] && [ "$(id -u)" = '0' ]; then
  chown -R consul:consul "$CONSUL_DATA_DIR" "$CONSUL_CONFIG_DIR" 2>/dev/null || true
  set -- setpriv --reuid consul --regid consul --init-groups "$@"
fi
exec "$@"
