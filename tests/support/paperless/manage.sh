#!/usr/bin/env bash
# Runs manage.py of one paperless-ngx test instance, with the environment its server runs with.
# Usage: manage.sh <install dir> <instance dir> <manage.py args…>
#   install dir   what scripts/setup-paperless.sh made: venv/, src/ (the release source)
#   instance dir  data/ (db.sqlite3), media/, consume/, static/, nltk/ — created if missing
# The server itself is `manage.sh <install> <instance> runserver 127.0.0.1:<port> --noreload`;
# `manage.sh <install> <instance> celery <args…>` runs Celery (its worker) in the same environment.
set -euo pipefail
install=${1:?usage: manage.sh <install dir> <instance dir> <args…>}
instance=${2:?usage: manage.sh <install dir> <instance dir> <args…>}
shift 2
here=$(cd "$(dirname "$0")" && pwd)

for d in data media consume static nltk; do mkdir -p "$instance/$d"; done
export PAPERLESS_DATA_DIR=$instance/data PAPERLESS_MEDIA_ROOT=$instance/media
export PAPERLESS_CONSUMPTION_DIR=$instance/consume PAPERLESS_STATICDIR=$instance/static
# No NLTK corpora are installed: an empty directory keeps paperless from looking elsewhere.
export PAPERLESS_NLTK_DIR=$instance/nltk
# A loopback test server: a fixed key is fine (3.x refuses to start without one).
export PAPERLESS_SECRET_KEY=paperless-mail-ingest-test-server-only
# No Redis: Django's cache in process memory (the channel layer is set in pmi_test_settings.py).
export PAPERLESS_CACHE_BACKEND=django.core.cache.backends.locmem.LocMemCache
export PAPERLESS_CHANNELS_BACKEND=channels.layers.InMemoryChannelLayer
# Thumbnails of text documents are drawn with this font (Debian's fonts-liberation).
export PAPERLESS_THUMBNAIL_FONT_NAME=/usr/share/fonts/truetype/liberation/LiberationSerif-Regular.ttf
# Never a paperless.conf of the host (/etc/paperless.conf would be read otherwise).
export PAPERLESS_CONFIGURATION_PATH=/dev/null
# PMI_SETTINGS: pmi_worker_settings for a server and its worker (server.ts, `worker: true`).
export PYTHONPATH=$here DJANGO_SETTINGS_MODULE=${PMI_SETTINGS:-pmi_test_settings}
export PYTHONDONTWRITEBYTECODE=1
# The server, manage.py and a worker share one SQLite file: wait for a lock rather than fail.
export PAPERLESS_DB_TIMEOUT=30
cd "$install/src/src"
if [ "${1:-}" = celery ]; then
  shift
  exec "$install/venv/bin/python" -m celery --app paperless "$@"
fi
exec "$install/venv/bin/python" manage.py "$@"
