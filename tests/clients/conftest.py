"""The Python client library (clients/python) against the real server: gunicorn on the
test database, as production runs it. The library is imported from its source tree."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

CLIENT_SRC = Path(__file__).resolve().parents[2] / "clients" / "python" / "src"
if str(CLIENT_SRC) not in sys.path:
    sys.path.insert(0, str(CLIENT_SRC))

from licensing_client import LicenseClient  # noqa: E402

from licensing import services  # noqa: E402
from licensing.actors import Actor  # noqa: E402
from tests.licensing.api.conftest import client_api_server, empty_cache, fresh_signer  # noqa: E402, F401
from tests.servers import free_port  # noqa: E402

PRODUCT = "studio"


@dataclass
class Live:
    base: str
    api_key: str
    shared_key: str
    public_key_pem: bytes


@pytest.fixture
def credential(transactional_db) -> tuple[str, str]:
    credential, shared_key = services.client_credential_create(name="Python client", actor=Actor.system("test"))
    return credential.api_key, shared_key


@pytest.fixture
def live(credential) -> Iterator[Live]:
    """A running server, and what an application ships: the credential and the public
    key (fetched once here, as a build would, never by the library at run time)."""
    with client_api_server(workers=1) as base:
        pem = requests.get(f"{base}/api/v4/public_key", timeout=10).content
        yield Live(base, credential[0], credential[1], pem)


@pytest.fixture
def make_client(live, tmp_path) -> Callable[..., LicenseClient]:
    def make(hardware_id: str = "hw-1", *, base: str | None = None, product: str = PRODUCT, **options):
        options.setdefault("cache_dir", tmp_path / "cache" / hardware_id)
        options.setdefault("backoff", 0.05)
        return LicenseClient(
            base or live.base,
            live.api_key,
            live.shared_key,
            live.public_key_pem,
            product,
            hardware_id=hardware_id,
            **options,
        )

    return make


@pytest.fixture
def nowhere() -> str:
    """A base URL where nothing listens: the server unreachable."""
    return f"http://127.0.0.1:{free_port()}"
