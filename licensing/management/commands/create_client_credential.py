"""Create a client credential and print its API key and shared key, once."""

from django.core.management.base import BaseCommand, CommandError

from licensing import services
from licensing.actors import Actor


class Command(BaseCommand):
    help = "Create a client API credential; prints the API key and the shared key (shown only now)."

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True, help="What the credential is for, e.g. 'Desktop app 4.x'.")

    def handle(self, *args, name: str, **options):
        name = name.strip()
        if not name or len(name) > 200:
            raise CommandError("--name must be 1 to 200 characters.")
        credential, shared_key = services.client_credential_create(
            name=name, actor=Actor.system("create_client_credential")
        )
        self.stdout.write(f"api key:    {credential.api_key}\nshared key: {shared_key}\n")
        self.stderr.write("Store the shared key now: it is not shown again.\n")
