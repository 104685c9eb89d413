from __future__ import annotations

import pytest

from server.push.worker import close_sender
from tests.push.helpers import make_services, vapid_public
from tests.push.pushservice import FakePushService


@pytest.fixture
def services(tmp_path):
    svc = make_services(tmp_path / "data")
    yield svc
    close_sender(svc)
    svc.store.close()


@pytest.fixture
def push_service(services):
    fake = FakePushService(vapid_public(services.settings.data_dir)).start()
    yield fake
    fake.stop()
