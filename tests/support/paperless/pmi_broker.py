# kombu's filesystem transport with each message written whole before it appears in the queue
# (CELERY_BROKER_TRANSPORT in pmi_worker_settings.py). kombu writes a message in place, and a worker
# polling just then moves the empty or half-written file away and loses the message: under load a
# fetch then stays pending for ever. Here it is written beside the queue and renamed into it.
import os
import uuid
from time import monotonic

from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps


class Channel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs):
        name = "{}_{}.{}.msg".format(int(round(monotonic() * 1000)), uuid.uuid4(), queue)
        staging = os.path.join(os.path.dirname(os.path.abspath(self.data_folder_out)), "staging", name)
        with open(staging, "wb") as f:
            f.write(str_to_bytes(dumps(payload)))
        os.replace(staging, os.path.join(self.data_folder_out, name))


class Transport(filesystem.Transport):
    Channel = Channel
