"""Run a Tagger worker: daphne's server in-process with the project's ASGI app."""

from daphne.endpoints import build_endpoint_description_strings
from daphne.server import Server
from django.core.management.base import BaseCommand

from tagger_project.asgi import application


class Command(BaseCommand):
    help = "Serve HTTP and WebSockets with daphne (owns the shutdown sequence)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)

    def handle(self, *args, host, port, **options):
        self.stdout.write(f"Tagger listening on http://{host}:{port}/")
        Server(
            application=application,
            endpoints=build_endpoint_description_strings(host=host, port=port),
            signal_handlers=True,
        ).run()
