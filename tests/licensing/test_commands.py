import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from licensing.models import AuditEvent, ClientCredential

pytestmark = pytest.mark.django_db


def test_create_client_credential_prints_both_keys_once():
    out, err = io.StringIO(), io.StringIO()
    call_command("create_client_credential", "--name", "Desktop app 4.x", stdout=out, stderr=err)
    credential = ClientCredential.objects.get(name="Desktop app 4.x")
    lines = dict(line.split(":", 1) for line in out.getvalue().strip().splitlines())
    assert lines["api key"].strip() == credential.api_key
    assert lines["shared key"].strip() == credential.shared_key
    assert "not shown again" in err.getvalue()
    assert AuditEvent.objects.for_target(credential).get().action == "client_credential.created"


@pytest.mark.parametrize("name", ["", "   ", "x" * 201])
def test_create_client_credential_refuses_a_bad_name(name):
    with pytest.raises(CommandError):
        call_command("create_client_credential", "--name", name, stdout=io.StringIO())
    assert not ClientCredential.objects.exists()
