# Django settings of a paperless-ngx test server started with a Celery worker
# (tests/support/paperless/server.ts, `worker: true`), for the server and its worker alike:
# pmi_test_settings.py, but tasks go through a broker, as in production, so paperless records
# them as it does there. The broker (pmi_broker.py) and the results are files, so no Redis server
# is needed; one worker process at a time reads and writes the results. With `redis: true` they
# are paperless's own Redis settings (PAPERLESS_REDIS) instead.
# (A module of its own: pmi_test_settings.py keys the cached template database.)
import os

from pmi_test_settings import *  # noqa: F401,F403
# The system status view reads this private name, which `import *` leaves out.
from paperless.settings import _CHANNELS_REDIS_URL  # noqa: F401

CELERY_TASK_ALWAYS_EAGER = False
CELERY_TASK_EAGER_PROPAGATES = False

_broker = os.environ.get("PMI_CELERY_BROKER_DIR")
if _broker:
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT = "pmi_broker:Transport"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": os.path.join(_broker, "queue"),
        "data_folder_out": os.path.join(_broker, "queue"),
        "control_folder": os.path.join(_broker, "control"),
        # kombu sleeps this long whenever it finds the queue empty (1 s by default): each task the
        # server or a task queues waited up to that long. The server and worker share a disk here.
        "polling_interval": 0.1,
    }
    # 2.x keeps results in the database (django-db); 3.x in Redis, here in files.
    if CELERY_RESULT_BACKEND.startswith("redis"):  # noqa: F405
        CELERY_RESULT_BACKEND = "file://" + os.path.join(_broker, "results")
