from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.concentrator_sim.master_stub import MasterStub


@pytest.fixture
async def master() -> AsyncIterator[MasterStub]:
    """A started :class:`MasterStub` on a free loopback port."""
    stub = await MasterStub().start()
    yield stub
    await stub.close()
