# syntax=docker/dockerfile:1
# One image for every process of the portal: web (default command), worker, cron and the migrate job
# (docker-compose.yml picks the command).
FROM python:3.11-slim

# PYTHONPATH: run from the source tree, because alembic.ini and migrations/ sit beside the packages, outside
# the wheel (portal/migrate.py finds them relative to the package), and the catalogs are compiled there.
# MALLOC_ARENA_MAX: one malloc arena instead of one per thread keeps the threaded processes smaller (bench/README.md).
ENV PYTHONDONTWRITEBYTECODE=1 \
    MALLOC_ARENA_MAX=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PORTAL_ENV=production \
    PYTHONPATH=/app

RUN useradd --system --create-home --uid 10001 --shell /usr/sbin/nologin portal

WORKDIR /app

# Dependencies first, in their own layer, so that a code change does not reinstall them. They are read from
# pyproject.toml, which lists them once; this includes the embedded servers of `make run`, which are plain
# dependencies and unused here (the compose services are set through the *_URL variables).
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

COPY . .
# The project itself gives the `portal` command; the .mo catalogs are git-ignored, so compile them here.
# The code stays owned by root: the app's user can read it but not change it.
RUN pip install --no-deps . \
    && python -m portal.i18n compile

USER portal
EXPOSE 8000
CMD ["gunicorn", "-c", "python:portal.gunicorn_conf", "-w", "4", "-b", "0.0.0.0:8000", "portal:create_app()"]
