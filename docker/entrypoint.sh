#!/bin/sh
# SmallImage container entrypoint: apply migrations when asked, then become the command.
#
# RUN_MIGRATIONS=1 (set on the web service only) runs `manage.py migrate` first, so
# the thumbnail workers never race the web container over the schema. `exec` makes
# the command (gunicorn by default) PID 1, so `docker stop` signals reach it.
set -eu

if [ "${RUN_MIGRATIONS:-0}" = "1" ]; then
    python manage.py migrate --noinput
    python manage.py createcachetable
fi

exec "$@"
