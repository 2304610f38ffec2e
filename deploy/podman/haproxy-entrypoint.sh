#!/bin/sh
# As the official image's entrypoint: flags are haproxy's; haproxy runs in the
# foreground (-db) as a master-worker (-W), so SIGUSR1/SIGUSR2 reach the worker.
set -e
if [ "${1#-}" != "$1" ]; then
  set -- haproxy "$@"
fi
if [ "$1" = 'haproxy' ]; then
  shift
  set -- haproxy -W -db "$@"
fi
exec "$@"
