import pytest

from licensing import limits, outbox, snapshots
from licensing.actors import Actor
from licensing.roles import LICENSING_ADMIN, SUPPORT, sync_roles
from tests.factories import StaffUserFactory
from tests.licensing.webhooks.receiver import Receiver


@pytest.fixture(autouse=True)
def no_outage_carried_over(monkeypatch):
    """A dependency a test took down (a Redis of its own stopped or hung) leaves no
    pause or fallback count behind for the next test."""
    monkeypatch.setattr(outbox, "_publish_paused_until", 0.0)
    monkeypatch.setattr(snapshots, "_cache_down", False)
    monkeypatch.setattr(snapshots, "_cache_down_until", 0.0)
    limits.fallback_cache.reset()


@pytest.fixture
def actor() -> Actor:
    return Actor.system("test")


@pytest.fixture
def roles(db):
    # Groups come from a post_migrate handler; flushes between transactional tests
    # remove them, so make sure they exist.
    sync_roles()


@pytest.fixture
def superuser(db):
    return StaffUserFactory(is_superuser=True, username="root")


@pytest.fixture
def support_user(roles):
    return StaffUserFactory(username="support", groups=[SUPPORT])


@pytest.fixture
def licensing_admin(roles):
    return StaffUserFactory(username="licadmin", groups=[LICENSING_ADMIN])


@pytest.fixture
def receiver():
    """A real local HTTP server that records webhook deliveries (tests/licensing/webhooks/receiver.py)."""
    receiver = Receiver().start()
    yield receiver
    receiver.stop()
