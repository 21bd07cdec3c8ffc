"""The micro-batcher's own logic, with a fake scoring function: batches, failures, shutdown."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from sentiment_mlops.api.batching import (
    BatcherClosedError,
    BatchFailedError,
    MicroBatcher,
    QueueFullError,
    QueueTimeoutError,
)

pytestmark = [pytest.mark.unit, pytest.mark.anyio]

# Long enough that every item submitted together joins the batch, whatever the machine's
# load; the batch is scored as soon as it is full, so a test never waits this long.
GATHER_S = 30


class Scorer:
    """Upper-cases texts and records each call's batch; raises on a batch holding "boom"."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []

    def __call__(self, texts: list[str]) -> list[str]:
        self.batches.append(list(texts))
        if "boom" in texts:
            raise RuntimeError("the model broke")
        return [text.upper() for text in texts]


async def started(scorer, **options) -> MicroBatcher[str, str]:
    batcher = MicroBatcher(scorer, **options)
    batcher.start()
    return batcher


async def test_concurrent_items_are_scored_in_one_call_each_getting_its_own_result():
    scorer = Scorer()
    texts = [f"text {number}" for number in range(10)]
    sizes: list[int] = []  # what the batch-size metric records
    batcher = await started(
        scorer, max_size=10, max_wait_s=GATHER_S, observe_batch_size=sizes.append
    )
    results = await asyncio.gather(*(batcher.submit(text) for text in texts))
    await batcher.stop()
    assert results == [text.upper() for text in texts]
    assert scorer.batches == [texts]
    assert sizes == [10]


async def test_batches_are_no_larger_than_max_size():
    scorer = Scorer()
    texts = [f"text {number}" for number in range(7)]
    batcher = await started(scorer, max_size=3, max_wait_s=GATHER_S)
    submitted = [asyncio.create_task(batcher.submit(text)) for text in texts]
    await asyncio.sleep(0)  # all seven are queued; the last batch is not full
    await batcher.stop()  # scores what is queued, without waiting for a full batch
    assert [task.result() for task in submitted] == [text.upper() for text in texts]
    assert scorer.batches == [texts[:3], texts[3:6], texts[6:]]


async def test_a_lone_item_is_scored_without_waiting_for_company():
    scorer = Scorer()
    batcher = await started(scorer, max_size=64)  # max_wait_s=0: the default
    assert await asyncio.wait_for(batcher.submit("alone"), GATHER_S) == "ALONE"
    assert await asyncio.wait_for(batcher.submit("again"), GATHER_S) == "AGAIN"
    await batcher.stop()
    assert scorer.batches == [["alone"], ["again"]]


async def test_a_failed_batch_fails_every_waiter_and_the_next_batch_is_scored():
    scorer = Scorer()
    batcher = await started(scorer, max_size=3, max_wait_s=GATHER_S)
    outcomes = await asyncio.gather(
        *(batcher.submit(text) for text in ["fine", "boom", "also fine"]), return_exceptions=True
    )
    assert all(isinstance(outcome, BatchFailedError) for outcome in outcomes)
    assert {outcome.batch_size for outcome in outcomes} == {3}
    assert "scoring a batch of 3 failed: RuntimeError" in str(outcomes[0])
    batcher.max_wait_s = 0
    assert await asyncio.wait_for(batcher.submit("later"), GATHER_S) == "LATER"
    await batcher.stop()


async def test_a_scorer_returning_the_wrong_number_of_results_fails_the_batch():
    batcher = await started(lambda texts: texts[:-1], max_size=2, max_wait_s=GATHER_S)
    outcomes = await asyncio.gather(
        batcher.submit("a"), batcher.submit("b"), return_exceptions=True
    )
    await batcher.stop()
    assert all(isinstance(outcome, BatchFailedError) for outcome in outcomes)


async def test_stop_answers_what_is_queued_then_refuses_new_items():
    scorer = Scorer()
    batcher = await started(scorer, max_size=64, max_wait_s=GATHER_S)
    queued = [asyncio.create_task(batcher.submit(text)) for text in ["a", "b"]]
    await asyncio.sleep(0)
    await asyncio.wait_for(batcher.stop(), GATHER_S)
    assert [task.result() for task in queued] == ["A", "B"]
    with pytest.raises(BatcherClosedError):
        await batcher.submit("too late")


async def test_a_cancelled_worker_leaves_nobody_waiting():
    batcher = await started(Scorer(), max_size=64, max_wait_s=GATHER_S)
    waiting = [asyncio.create_task(batcher.submit(text)) for text in ["a", "b"]]
    await asyncio.sleep(0)
    batcher._worker.cancel()  # as a crash of the worker would
    for task in waiting:
        with pytest.raises(BatcherClosedError):
            await asyncio.wait_for(task, GATHER_S)
    await batcher.stop()


@pytest.mark.parametrize(
    "limits",
    [{"max_size": 0}, {"max_queue": 0}, {"max_wait_s": -1}, {"queue_timeout_s": 0}],
    ids=lambda limits: next(iter(limits)),
)
def test_bad_limits_are_refused(limits):
    with pytest.raises(ValueError, match="max_size and max_queue must be >= 1"):
        MicroBatcher(Scorer(), **{"max_size": 1, **limits})


class SlowScorer(Scorer):
    """Blocks its thread for ``seconds`` per batch, as a big model does; records the thread."""

    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.seconds = seconds
        self.threads: list[threading.Thread] = []

    def __call__(self, texts: list[str]) -> list[str]:
        self.threads.append(threading.current_thread())
        time.sleep(self.seconds)
        return super().__call__(texts)


async def test_a_full_queue_refuses_new_items_at_once():
    batcher = await started(SlowScorer(0.5), max_size=1, max_queue=2)
    first = asyncio.create_task(batcher.submit("being scored"))
    await asyncio.sleep(0.1)  # the worker took it: the queue is empty again
    queued = [asyncio.create_task(batcher.submit(text)) for text in ["a", "b"]]
    await asyncio.sleep(0)
    with pytest.raises(QueueFullError, match="2 texts are waiting already"):
        await asyncio.wait_for(batcher.submit("one too many"), 0.1)
    await batcher.stop()
    assert [await task for task in [first, *queued]] == ["BEING SCORED", "A", "B"]


async def test_an_item_that_waited_past_its_deadline_is_not_scored():
    scorer = SlowScorer(0.5)
    batcher = await started(scorer, max_size=1, queue_timeout_s=0.2)
    first = asyncio.create_task(batcher.submit("slow"))
    await asyncio.sleep(0.05)
    with pytest.raises(QueueTimeoutError, match="waited over 0.2 s"):
        await asyncio.wait_for(batcher.submit("late"), GATHER_S)  # waits 0.45 s behind "slow"
    assert await first == "SLOW"
    await batcher.stop()
    assert scorer.batches == [["slow"]]


async def test_scoring_runs_off_the_event_loop_even_for_one_item():
    scorer = SlowScorer(0.3)
    batcher = await started(scorer, max_size=64)
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticker = asyncio.create_task(tick())
    assert await batcher.submit("alone") == "ALONE"
    ticker.cancel()
    await batcher.stop()
    assert scorer.threads[0] is not threading.main_thread()
    assert ticks >= 10  # the loop kept running while the text was scored (30 without load)
