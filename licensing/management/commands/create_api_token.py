"""Create a management API token and print it, once."""

from django.core.management.base import BaseCommand, CommandError

from licensing import services
from licensing.actors import Actor


class Command(BaseCommand):
    help = "Create a bearer token for the management API (/api/v1/); prints it (shown only now)."

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True, help="Which system uses it, e.g. 'billing'.")
        parser.add_argument("--read-only", action="store_true", help="Read everything, change nothing.")

    def handle(self, *args, name: str, read_only: bool, **options):
        name = name.strip()
        if not name or len(name) > 200:
            raise CommandError("--name must be 1 to 200 characters.")
        token, raw = services.api_token_create(name=name, read_only=read_only, actor=Actor.system("create_api_token"))
        self.stdout.write(f"{raw}\n")
        mode = "read-only" if token.read_only else "read-write"
        self.stderr.write(f"{mode} token {token.name!r} created. Store it now: it is not shown again.\n")
