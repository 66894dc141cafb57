# SmallImage: one image for the web server (gunicorn, the default command) and
# the thumbnail worker (`python manage.py db_worker`). See docker-compose.yml.
#
# psycopg2-binary and Pillow ship manylinux wheels, so no compiler is needed.
FROM python:3.11-slim-bookworm

# Gunicorn takes its number of worker processes from WEB_CONCURRENCY (override it
# at run time); each runs --threads request threads (CMD below).
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    WEB_CONCURRENCY=2

WORKDIR /app

# An unprivileged user; its home holds gunicorn's control socket.
RUN groupadd --system --gid 10001 smallimage \
    && useradd --system --uid 10001 --gid smallimage --create-home \
       --home-dir /home/smallimage --shell /usr/sbin/nologin smallimage

# Dependencies first, in their own layer: it is rebuilt only when requirements.txt changes.
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt

COPY . .

# Static files are collected at build time (whitenoise serves them, compressed and
# hashed). Settings refuse to start without a long random key, so this one command
# gets one that dies with it: no key is baked into the image or its history.
# Loading the settings made var/ and an empty SQLite file in it, as root: var/ is
# made afresh, empty, private and the app user's, for the embedded default.
RUN DJANGO_SECRET_KEY="$(python -c 'import secrets; print(secrets.token_urlsafe(50))')" \
       python manage.py collectstatic --noinput \
    && rm -rf var && mkdir -m 0700 var \
    && chown smallimage:smallimage var \
    && chmod 0755 docker/entrypoint.sh

USER 10001:10001

EXPOSE 8000

# GET /healthz (database and storage); a worker container should disable this.
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
    CMD ["python", "/app/docker/healthcheck.py"]

# Runs `manage.py migrate` first when RUN_MIGRATIONS=1, then execs the command.
ENTRYPOINT ["/app/docker/entrypoint.sh"]

# gthread workers: a slow client sending a 25 MB upload ties up one thread, not a
# whole process. --timeout restarts a worker process that stops answering (a long
# request in a thread does not trip it). Heartbeat files go to /dev/shm (tmpfs).
CMD ["gunicorn", "--pythonpath", "site", "wsgi:application", \
     "--bind", "0.0.0.0:8000", \
     "--worker-class", "gthread", "--threads", "4", \
     "--timeout", "60", "--graceful-timeout", "30", \
     "--worker-tmp-dir", "/dev/shm", \
     "--access-logfile", "-"]
