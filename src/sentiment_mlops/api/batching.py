"""Micro-batching: texts that arrive while the model is busy are scored together.

Scoring costs mostly per call, not per text (one text ~3 ms, a thousand ~250 ms), so under
concurrent load the service queues single-text requests and scores everything queued in one
call when the scorer is free, then hands each request its own answer (the idea of Ray Serve's
``@serve.batch`` and Triton's dynamic batcher). With ``max_wait_s=0`` a lone request waits for
nothing: it is scored as soon as the scorer is free.

The queue is bounded twice: in length (a full queue refuses a new item at once) and in time
(an item that waited past its deadline is dropped with an error instead of being scored for a
client that has given up). Scoring always runs in the batcher's thread, never on the event
loop, so health checks and other requests are answered while the model works.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Generic, TypeVar

logger = logging.getLogger(__name__)

Item = TypeVar("Item")
Result = TypeVar("Result")


class BatchFailedError(Exception):
    """Scoring the batch an item was in raised; every item of that batch gets this error."""

    def __init__(self, batch_size: int, cause: BaseException):
        super().__init__(f"scoring a batch of {batch_size} failed: {type(cause).__name__}")
        self.batch_size = batch_size


class BatcherClosedError(Exception):
    """The batcher is stopping or stopped: it takes no new items."""


class QueueFullError(Exception):
    """The queue holds ``max_queue`` items already: the item was not queued."""


class QueueTimeoutError(Exception):
    """The item waited longer than ``queue_timeout_s`` for the scorer and was not scored."""


class MicroBatcher(Generic[Item, Result]):
    """Collects items submitted concurrently and scores them with one ``score`` call.

    ``score`` takes a list of items and returns one result per item, in order. One worker
    task runs the batches one after another, each in a thread of its own, so that the event
    loop keeps reading requests (the next batch) meanwhile.
    """

    def __init__(  # noqa: PLR0913 - one keyword per bound
        self,
        score: Callable[[list[Item]], Sequence[Result]],
        *,
        max_size: int,
        max_wait_s: float = 0.0,
        max_queue: int = 1_024,
        queue_timeout_s: float = 10.0,
        observe_batch_size: Callable[[int], None] | None = None,
    ):
        if max_size < 1 or max_wait_s < 0 or max_queue < 1 or queue_timeout_s <= 0:
            raise ValueError(
                "max_size and max_queue must be >= 1, max_wait_s >= 0 and queue_timeout_s > 0; "
                f"got {max_size}, {max_queue}, {max_wait_s}, {queue_timeout_s}"
            )
        self._score = score
        self.max_size, self.max_wait_s = max_size, max_wait_s
        self.max_queue, self.queue_timeout_s = max_queue, queue_timeout_s
        self._observe = observe_batch_size or (lambda size: None)
        # Entries are (item, future, deadline); unbounded so that stop() can always queue its
        # mark: submit() enforces max_queue.
        self._queue: asyncio.Queue[tuple[Item, asyncio.Future[Result], float]] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._closed = False

    def start(self) -> None:
        """Start the worker (on the running event loop)."""
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="micro-batcher")
        self._worker = asyncio.create_task(self._run(), name="micro-batcher")

    async def submit(self, item: Item) -> Result:
        """Queue ``item``; its result once its batch is scored.

        Raises :class:`BatchFailedError` if scoring its batch raised,
        :class:`BatcherClosedError` if the batcher is stopping, :class:`QueueFullError` if
        ``max_queue`` items wait already and :class:`QueueTimeoutError` if it waited over
        ``queue_timeout_s``.
        """
        if self._closed or self._worker is None:
            raise BatcherClosedError("the batcher is not running")
        if self._queue.qsize() >= self.max_queue:
            raise QueueFullError(f"{self.max_queue} texts are waiting already")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Result] = loop.create_future()
        self._queue.put_nowait((item, future, loop.time() + self.queue_timeout_s))
        return await future

    async def stop(self) -> None:
        """Take no new items, score those already queued, then stop the worker."""
        self._closed = True
        if self._worker is not None and not self._worker.done():
            self._queue.put_nowait(_STOP)  # after every item queued so far
            await asyncio.wait([self._worker])  # returns also if the worker was cancelled
        if self._executor is not None:
            # A batch still in the thread (only if the worker was cancelled) finishes unwaited.
            self._executor.shutdown(wait=False, cancel_futures=True)

    async def _run(self) -> None:
        batch: list[tuple[Item, asyncio.Future[Result], float]] = []
        try:
            stopping = False
            while not stopping:
                batch = []
                stopping = await self._collect(batch)
                if batch:
                    await self._score_batch(batch)
        finally:  # stopped, or cancelled: nobody may be left waiting for an answer
            self._closed = True
            closed = BatcherClosedError("the service is shutting down")
            for _, future, _ in batch:
                _fail(future, closed)
            while not self._queue.empty():
                entry = self._queue.get_nowait()
                if entry is not _STOP:
                    _fail(entry[1], closed)

    async def _collect(self, batch: list[tuple[Item, asyncio.Future[Result], float]]) -> bool:
        """Wait for one item, then add what else is queued to ``batch`` (up to ``max_size``),
        waiting up to ``max_wait_s`` for more. True once the stop mark is reached."""
        first = await self._queue.get()
        if first is _STOP:
            return True
        batch.append(first)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.max_wait_s
        while len(batch) < self.max_size:
            if self._queue.empty():
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                try:
                    entry = await asyncio.wait_for(self._queue.get(), remaining)
                except TimeoutError:
                    break
            else:
                entry = self._queue.get_nowait()
            if entry is _STOP:
                return True
            batch.append(entry)
        return False

    async def _score_batch(self, batch: list[tuple[Item, asyncio.Future[Result], float]]) -> None:
        now = asyncio.get_running_loop().time()
        late = QueueTimeoutError(f"waited over {self.queue_timeout_s:g} s for the model")
        for _, future, deadline in batch:
            if deadline < now:
                _fail(future, late)
        # Gone clients and late items are not scored.
        batch = [entry for entry in batch if not entry[1].done()]
        if not batch:
            return
        items = [item for item, _, _ in batch]
        self._observe(len(items))
        try:
            results = await asyncio.get_running_loop().run_in_executor(
                self._executor, self._score, items
            )
            if len(results) != len(items):
                raise ValueError(f"score returned {len(results)} results for {len(items)} items")
        except Exception as error:
            logger.exception("Scoring a batch of %d failed", len(items))
            failure = BatchFailedError(len(items), error)
            for _, future, _ in batch:
                _fail(future, failure)
            return
        for (_, future, _), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)


_STOP = object()  # queued by stop(): everything queued before it is still scored


def _fail(future: asyncio.Future, error: Exception) -> None:
    if not future.done():
        future.set_exception(error)
