"""The server plumbing of the tests and benchmarks: start, wait until ready, stop the group."""

from __future__ import annotations

import os
import re
import shlex
import sys

import pytest

from tests.support.servers import (
    ServerError,
    answers,
    free_port,
    start_server,
    wait_until,
)

pytestmark = pytest.mark.system

PYTHON = shlex.quote(sys.executable)


def test_a_server_that_exits_is_reported_with_its_command_and_output(tmp_path):
    command = [sys.executable, "-c", "print('cannot bind: port taken'); raise SystemExit(3)"]
    with pytest.raises(ServerError) as raised:
        start_server(command, f"http://127.0.0.1:{free_port()}/", timeout=60, log=tmp_path / "log")
    message = str(raised.value)
    assert f"{shlex.join(command)} exited with 3" in message
    assert "cannot bind: port taken" in message


def test_a_server_that_never_gets_ready_times_out_and_is_stopped(tmp_path):
    warming_up = (
        "import os, time; print('warming up, pid', os.getpid(), flush=True); time.sleep(600)"
    )
    command = [sys.executable, "-c", warming_up]
    with pytest.raises(ServerError) as raised:
        start_server(command, lambda: False, timeout=1, interval=0.1, log=tmp_path / "log")
    message = str(raised.value)
    assert f"{shlex.join(command)} was not ready after 1 s" in message
    pid = int(re.search(r"warming up, pid (\d+)", message).group(1))
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_stop_ends_the_children_of_the_server_too():
    """The shell only starts the real server as its child (like ``kedro viz run``)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    shell = f"{PYTHON} -m http.server --bind 127.0.0.1 {port} & wait"
    with start_server(["sh", "-c", shell], url, timeout=60) as server:
        assert answers(url)
        log = server.log
    # Only the child served: it must be gone too, and the temporary log deleted.
    wait_until(lambda: not answers(url, timeout=1), what="the child server", timeout=10)
    assert not log.exists()
