"""The one Dask cluster helper: a scheduler that does not answer is a clear error."""

from __future__ import annotations

import dask
import pytest

from sentiment_mlops.dask_cluster import SchedulerUnreachableError, dask_client
from tests.support.servers import free_port

pytestmark = pytest.mark.unit


def test_an_unreachable_scheduler_says_what_to_do():
    address = f"tcp://127.0.0.1:{free_port()}"  # nothing listens there
    with (
        dask.config.set({"distributed.comm.timeouts.connect": "1s"}),
        pytest.raises(SchedulerUnreachableError) as raised,
    ):
        with dask_client(address):
            pass
    message = str(raised.value)
    assert f"Cannot reach the Dask scheduler at {address}" in message
    assert "give no scheduler (null) to run on a LocalCluster here" in message
