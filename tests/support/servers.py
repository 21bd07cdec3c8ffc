"""Start a server process, wait until it answers, stop its whole process group.

The test fixtures (the API service, kedro-viz, the MLflow UI and server, JupyterLab, dockerd) and
``benchmarks/serving.py`` start their servers with it. It uses only the standard library, so
it adds no dependency.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import random
import shlex
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

# How much of a server's output an error quotes (its end, where the reason usually is).
OUTPUT_TAIL_CHARS = 4000

Readiness = str | Callable[[], bool]


class ServerError(RuntimeError):
    """A server did not come up; the message names it and quotes the end of its output."""


def free_port() -> int:
    """A loopback TCP port nothing listens on right now, between 20000 and 32767.

    Not the OS's port-0 pick: that comes from the ephemeral range (up to 60999), and
    kedro-viz refuses any port above 49151.
    """
    for port in random.Random().sample(range(20000, 32768), 200):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("No free TCP port between 20000 and 32767 on 127.0.0.1")


def answers(url: str, timeout: float = 5) -> bool:
    """Whether ``GET url`` answers 200 right now."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status == 200
    except (OSError, http.client.HTTPException):  # refused, reset, timed out, 4xx / 5xx
        return False


def wait_until(  # noqa: PLR0913 - what to wait for, how long, and how to tell it failed
    ready: Callable[[], bool],
    *,
    what: str,
    timeout: float,
    interval: float = 0.5,
    gone: Callable[[], str | None] = lambda: None,
    output: Callable[[], str] = lambda: "",
) -> None:
    """Call ``ready`` every ``interval`` seconds until it returns true.

    Raises :class:`ServerError` as soon as ``gone`` returns a reason (the server died), or
    once ``timeout`` seconds have passed; the message ends with the last part of ``output()``.
    """
    deadline = time.monotonic() + timeout
    while not ready():
        reason = gone()
        if reason is None and time.monotonic() > deadline:
            reason = f"{what} was not ready after {timeout:g} s"
        if reason is not None:
            raise ServerError(f"{reason}. Its output ends with:\n{output()[-OUTPUT_TAIL_CHARS:]}")
        time.sleep(interval)


@dataclass
class ServerProcess:
    """A server started by :func:`start_server`, leader of its own process group."""

    command: list[str]
    process: subprocess.Popen
    log: Path  # its stdout and stderr
    temporary_log: bool = False  # deleted by stop()
    stop_signal: int = signal.SIGTERM
    stop_timeout: float = 20

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def name(self) -> str:
        """The command line, as a shell would show it."""
        return shlex.join(self.command)

    def output(self) -> str:
        """Everything the server wrote so far."""
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def exit_reason(self) -> str | None:
        """``'<command> exited with <code>'`` once the process has ended, else ``None``."""
        if self.process.poll() is None:
            return None
        return f"{self.name} exited with {self.process.returncode}"

    def wait_until_ready(self, ready: Readiness, timeout: float, interval: float = 0.5) -> None:
        """Wait until ``ready`` (a URL that must answer 200, or a check) holds.

        Raises :class:`ServerError` if the process ends first or after ``timeout`` seconds.
        """
        check = (lambda: answers(ready)) if isinstance(ready, str) else ready
        where = f" ({ready})" if isinstance(ready, str) else ""
        wait_until(
            check,
            what=f"{self.name}{where}",
            timeout=timeout,
            interval=interval,
            gone=self.exit_reason,
            output=self.output,
        )

    def stop(self) -> None:
        """Send ``stop_signal`` to the whole process group, then SIGKILL it after
        ``stop_timeout`` seconds.

        The group, not only the process: ``kedro viz run``, ``kedro jupyter lab``, ``mlflow
        server`` and ``dockerd`` leave child processes that would otherwise keep running.
        """
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, self.stop_signal)
        try:
            self.process.wait(timeout=self.stop_timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        if self.temporary_log:
            self.log.unlink(missing_ok=True)


def start_server(  # noqa: PLR0913 - a command, where it runs, what "ready" means, how to stop
    command: Sequence[str | os.PathLike],
    ready: Readiness,
    *,
    timeout: float,
    interval: float = 0.5,
    cwd: str | os.PathLike | None = None,
    env: Mapping[str, str] | None = None,
    log: Path | None = None,
    stop_signal: int = signal.SIGTERM,
    stop_timeout: float = 20,
) -> ServerProcess:
    """Start ``command`` in a new process group and return once ``ready`` holds.

    ``ready`` is a URL that must answer 200, or a function that returns true once the server
    serves. Its stdout and stderr go to ``log`` (a temporary file, deleted by ``stop()``, when
    not given), a file rather than a pipe so that a chatty server never blocks on a full pipe.
    If it exits or is not ready within ``timeout`` seconds, it is stopped and
    :class:`ServerError` names the command and quotes its output.

    Use it as a context manager (``with start_server(...) as server:``) to stop it, with
    ``stop_signal`` and ``stop_timeout``, when the block ends; or call ``server.stop()``.
    """
    arguments = [str(part) for part in command]
    temporary_log = log is None
    if log is None:
        handle, name = tempfile.mkstemp(prefix="server-", suffix=".log")
        os.close(handle)
        log = Path(name)
    with log.open("wb") as output:  # the child keeps its own copy of the descriptor
        process = subprocess.Popen(
            arguments,
            cwd=cwd,
            env=None if env is None else dict(env),
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = ServerProcess(arguments, process, log, temporary_log, stop_signal, stop_timeout)
    try:
        server.wait_until_ready(ready, timeout, interval)
    except BaseException:
        server.stop()
        raise
    return server
