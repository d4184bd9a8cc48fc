"""The worker entry point: ``dramatiq worker:broker`` (what ``tcma worker`` and the Procfile run).

Building the app first sets up the broker and imports every actor module, so each actor is
bound to the configured Redis broker before Dramatiq starts consuming. Each worker process
also runs the scheduler loop (``tcma.scheduler``), whose jobs run once per period across all
processes.
"""

from tcma import scheduler
from tcma.app import create_app
from tcma.queue import get_broker

app = create_app()
broker = get_broker()
scheduler.start(app)
