# Django settings of a paperless-ngx test server (DJANGO_SETTINGS_MODULE=pmi_test_settings, this
# directory on PYTHONPATH): paperless's own settings, plus what a server on loopback needs that no
# PAPERLESS_* environment variable sets. Used by runserver, manage.py and the template migration.
from paperless.settings import *  # noqa: F401,F403

# `manage.py mail_fetcher` queues consumption as Celery tasks; with no broker they run in-process,
# and a failure surfaces in the fetcher's own output instead of a worker's log.
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True

# Consumption sends progress messages over the channel layer. 3.x reads PAPERLESS_CHANNELS_BACKEND,
# 2.20 hard-wires Redis: in memory for both, so no Redis server is needed.
CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
