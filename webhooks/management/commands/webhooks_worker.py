"""`manage.py webhooks_worker`: send the queued webhooks (webhooks/delivery.py)."""

import logging

from django.core.management.base import BaseCommand

from webhooks.delivery import Worker, run_due


class Command(BaseCommand):
    help = (
        "Send queued webhooks, retrying on the documented schedule. Run as many workers as you like: "
        "each delivery is taken by one at a time. Stops after the current attempt on SIGTERM or Ctrl-C."
    )

    def add_arguments(self, parser):
        parser.add_argument("--interval", type=float, default=1.0,
                            help="Seconds to wait before looking again when nothing is due (default 1).")
        parser.add_argument("--once", action="store_true", help="Send what is due now, then exit.")

    def handle(self, *, interval: float, once: bool, verbosity: int, **options):
        logging.basicConfig(level=logging.INFO if verbosity else logging.WARNING,
                            format="%(asctime)s webhooks_worker %(levelname)s %(message)s")
        if once:
            sent = run_due()
            self.stdout.write(f"{sent} attempt(s) made.")
            return
        worker = Worker(interval=interval)
        worker.install_signals()
        self.stdout.write(f"Webhook worker started (interval {interval} s).")
        self.stdout.flush()
        worker.run()
