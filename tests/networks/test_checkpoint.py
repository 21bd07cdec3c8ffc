"""A fit with ``checkpoint_dir`` that is stopped resumes where it was, to the same weights.

On a tiny BERT saved as a local pretrained model (loaded as ``model_name``, as the real MiniLM
is; dropout on, so the random state must be restored too). The in-process tests stop the fit by
raising from inside its loop, at a chosen batch; one test kills a real fitting process.
"""

from __future__ import annotations

import json
import logging
import signal
import subprocess
import sys
import time

import mlflow
import numpy as np
import pytest
import torch

from sentiment_mlops.networks import TransformerFineTuneClassifier
from sentiment_mlops.networks.base import TorchTextClassifier, TrainingCheckpoint
from tests.networks.conftest import SMALL

pytestmark = pytest.mark.integration

#: 96 training texts in batches of 16 (6 batches an epoch), 24 held out (2 batches).
SETTINGS = {
    "max_length": 32,
    "batch_size": 16,
    "max_epochs": 3,
    "patience": 3,
    "validation_fraction": 0.2,
    "learning_rate": 1e-3,
    "num_threads": 1,
    "verbose": False,
}


@pytest.fixture(scope="module")
def texts_and_labels(airline_texts) -> tuple[list[str], list[str]]:
    return airline_texts["train_text"][:120], airline_texts["train_label"][:120]


@pytest.fixture(scope="module")
def pretrained(fine_tuned, tmp_path_factory) -> dict[str, str]:
    """SETTINGS plus ``model_name``: a tiny BERT and its tokenizer in a local directory."""
    network = fine_tuned.named_steps["classifier"]
    directory = tmp_path_factory.mktemp("tiny-pretrained")
    network.module_.model.save_pretrained(directory)
    network.tokenizer_.save_pretrained(directory)
    return {**SETTINGS, "model_name": str(directory)}


@pytest.fixture(scope="module")
def uninterrupted(pretrained, texts_and_labels) -> TransformerFineTuneClassifier:
    return TransformerFineTuneClassifier(**pretrained).fit(*texts_and_labels)


class Stop(Exception):  # noqa: N818 - what it does, not an error
    """Raised from inside the training loop: the fit stops as a crash would stop it."""


def stop_at_call(monkeypatch: pytest.MonkeyPatch, call: int) -> None:
    """Make the ``call``-th batch the fit builds (training or validation) raise :class:`Stop`."""
    calls = 0
    build_batch = TorchTextClassifier._batch

    def counting(self, *args, **kwargs):
        nonlocal calls
        calls += 1
        if calls == call:
            raise Stop
        return build_batch(self, *args, **kwargs)

    monkeypatch.setattr(TorchTextClassifier, "_batch", counting)


def assert_same_fit(resumed: TorchTextClassifier, reference: TorchTextClassifier) -> None:
    reference_state = reference.module_.state_dict()
    for key, value in resumed.module_.state_dict().items():
        assert torch.equal(value, reference_state[key]), key
    assert resumed.best_epoch_ == reference.best_epoch_
    timeless = [
        [{key: value for key, value in entry.items() if key != "epoch_seconds"} for entry in fit]
        for fit in (resumed.history_, reference.history_)
    ]
    assert timeless[0] == timeless[1]


@pytest.mark.parametrize(
    ("stopping_call", "resumes_at"),
    [
        (3, {"epoch": 1, "batch": 2}),  # in the first epoch, after two batches
        (8, {"epoch": 1, "batch": 6}),  # while scoring the hold-out: only that is redone
        (9, {"epoch": 2, "batch": 0}),  # before the second epoch's first save: from its start
        (11, {"epoch": 2, "batch": 2}),  # in the second epoch
    ],
)
def test_a_stopped_fit_resumes_to_the_weights_of_an_uninterrupted_one(  # noqa: PLR0917 - fixtures
    stopping_call, resumes_at, pretrained, texts_and_labels, uninterrupted, tmp_path, monkeypatch
):
    settings = {**pretrained, "checkpoint_dir": str(tmp_path), "checkpoint_minutes": 0}
    with monkeypatch.context() as patched:
        stop_at_call(patched, stopping_call)
        with pytest.raises(Stop):
            TransformerFineTuneClassifier(**settings).fit(*texts_and_labels)
    assert len(list(tmp_path.glob("fit-*.pt"))) == 1

    resumed = TransformerFineTuneClassifier(**settings).fit(*texts_and_labels)

    assert resumed.resumed_from_ == resumes_at
    assert_same_fit(resumed, uninterrupted)
    assert uninterrupted.resumed_from_ is None
    assert list(tmp_path.iterdir()) == []  # a finished fit deletes its checkpoint


@pytest.mark.parametrize("name", sorted(SMALL))
def test_a_network_trained_from_scratch_resumes_too(name, texts_and_labels, tmp_path, monkeypatch):
    """The BiLSTM, the region CNN and the Transformer encoder (their tokenizers learned from the
    texts) resume to the weights of an uninterrupted fit, stopped in their second epoch."""
    estimator, shape = SMALL[name]
    settings = {**SETTINGS, **shape, "max_epochs": 2, "min_frequency": 1}
    uninterrupted = estimator(**settings).fit(*texts_and_labels)
    settings |= {"checkpoint_dir": str(tmp_path), "checkpoint_minutes": 0}
    with monkeypatch.context() as patched:
        stop_at_call(patched, 11)
        with pytest.raises(Stop):
            estimator(**settings).fit(*texts_and_labels)

    resumed = estimator(**settings).fit(*texts_and_labels)

    assert resumed.resumed_from_ == {"epoch": 2, "batch": 2}
    assert_same_fit(resumed, uninterrupted)
    assert list(tmp_path.iterdir()) == []


def test_only_the_same_fit_resumes_from_a_checkpoint(
    pretrained, texts_and_labels, tmp_path, monkeypatch
):
    settings = {**pretrained, "checkpoint_dir": str(tmp_path), "checkpoint_minutes": 0}
    with monkeypatch.context() as patched:
        stop_at_call(patched, 3)
        with pytest.raises(Stop):
            TransformerFineTuneClassifier(**settings).fit(*texts_and_labels)
    stopped = list(tmp_path.glob("fit-*.pt"))

    texts, labels = texts_and_labels
    other_parameters = TransformerFineTuneClassifier(**{**settings, "learning_rate": 2e-3})
    assert other_parameters.fit(texts, labels).resumed_from_ is None
    other_data = TransformerFineTuneClassifier(**settings)
    assert other_data.fit(texts[:-1], labels[:-1]).resumed_from_ is None
    # How the fit runs is not what it learns: another thread count or device resumes it.
    run_elsewhere = TransformerFineTuneClassifier(**{**settings, "num_threads": 2, "device": "cpu"})
    assert run_elsewhere.fit(texts, labels).resumed_from_ == {"epoch": 1, "batch": 2}
    assert not any(path.exists() for path in stopped)


def test_a_fit_with_a_drawn_seed_resumes_with_the_seed_it_drew(
    pretrained, texts_and_labels, tmp_path, monkeypatch
):
    settings = {
        **pretrained,
        "random_state": None,
        "checkpoint_dir": str(tmp_path),
        "checkpoint_minutes": 0,
    }
    with monkeypatch.context() as patched:
        stop_at_call(patched, 3)
        with pytest.raises(Stop):
            TransformerFineTuneClassifier(**settings).fit(*texts_and_labels)
    [path] = tmp_path.glob("fit-*.pt")
    seed = torch.load(path, weights_only=True)["seed"]

    resumed = TransformerFineTuneClassifier(**settings).fit(*texts_and_labels)
    reference = TransformerFineTuneClassifier(**{**pretrained, "random_state": seed})

    assert resumed.resumed_from_ == {"epoch": 1, "batch": 2}
    assert_same_fit(resumed, reference.fit(*texts_and_labels))


def test_a_trained_tokenizer_is_restored_not_trained_again(texts_and_labels, tmp_path, monkeypatch):
    """A tokenizer trained on the texts (no ``model_name``) is not reproducible (tokenizers'
    WordPiece trainer breaks ties in no fixed order): the resumed fit must use the saved one."""
    settings = {**SETTINGS, "min_frequency": 1, "checkpoint_dir": str(tmp_path)}
    settings["checkpoint_minutes"] = 0
    with monkeypatch.context() as patched:
        stop_at_call(patched, 3)
        with pytest.raises(Stop):
            TransformerFineTuneClassifier(**settings).fit(*texts_and_labels)
    [path] = tmp_path.glob("fit-*.pt")
    saved_vocabulary = (
        TrainingCheckpoint.for_fit(
            TransformerFineTuneClassifier(**settings),
            texts_and_labels[0],
            np.asarray(texts_and_labels[1]),
        )
        .load()["preprocessing"]["tokenizer_"]
        .get_vocab()
    )

    resumed = TransformerFineTuneClassifier(**settings).fit(*texts_and_labels)

    assert resumed.resumed_from_ == {"epoch": 1, "batch": 2}
    assert resumed.tokenizer_.get_vocab() == saved_vocabulary
    assert resumed.model_config_.vocab_size == len(saved_vocabulary)
    assert not path.exists()


@pytest.mark.parametrize("minutes", [-1, None, "10"])
def test_a_checkpoint_interval_that_is_not_minutes_is_a_clear_error(
    minutes, texts_and_labels, tmp_path
):
    estimator = TransformerFineTuneClassifier(
        **SETTINGS, checkpoint_dir=str(tmp_path), checkpoint_minutes=minutes
    )
    with pytest.raises(ValueError, match=r"checkpoint_minutes=.*a number >= 0"):
        estimator.fit(*texts_and_labels)


def test_an_unreadable_checkpoint_is_replaced_with_a_warning(
    pretrained, texts_and_labels, tmp_path, caplog
):
    estimator = TransformerFineTuneClassifier(**pretrained, checkpoint_dir=str(tmp_path))
    texts, labels = texts_and_labels
    path = TrainingCheckpoint.for_fit(estimator, texts, np.asarray(labels)).path
    path.write_bytes(b"half a file")

    with caplog.at_level(logging.WARNING):
        estimator.fit(texts, labels)

    assert estimator.resumed_from_ is None
    assert f"Cannot read the checkpoint {path}" in caplog.text
    assert not path.exists()


def test_a_resumed_fit_logs_the_epochs_done_before_it_to_its_mlflow_run(
    pretrained, texts_and_labels, tmp_path, monkeypatch, tracking_uri
):
    settings = {**pretrained, "checkpoint_dir": str(tmp_path), "checkpoint_minutes": 0}
    with monkeypatch.context() as patched:
        stop_at_call(patched, 11)
        with pytest.raises(Stop), mlflow.start_run():
            TransformerFineTuneClassifier(**settings).fit(*texts_and_labels)

    with mlflow.start_run() as run:
        resumed = TransformerFineTuneClassifier(**settings).fit(*texts_and_labels)

    history = mlflow.tracking.MlflowClient().get_metric_history(
        run.info.run_id, "finetune_val_macro_f1"
    )
    assert [metric.step for metric in history] == [1, 2, 3]
    assert [metric.value for metric in history] == pytest.approx(
        [entry["val_macro_f1"] for entry in resumed.history_]
    )


KILLED_FIT = """
import json, sys
from sentiment_mlops.networks import TransformerFineTuneClassifier
data, settings = json.loads(open(sys.argv[1]).read()), json.loads(sys.argv[2])
TransformerFineTuneClassifier(**settings).fit(data["texts"], data["labels"])
"""


def test_a_killed_fitting_process_resumes_in_another(pretrained, texts_and_labels, tmp_path):
    texts, labels = texts_and_labels
    data = tmp_path / "data.json"
    data.write_text(json.dumps({"texts": texts, "labels": labels}))
    # Enough epochs that the process is still fitting when the first save appears.
    settings = {
        **pretrained,
        "max_epochs": 40,
        "patience": 40,
        "checkpoint_dir": str(tmp_path / "checkpoints"),
        "checkpoint_minutes": 0,
    }
    fitting = subprocess.Popen(  # noqa: S603 - this interpreter, this test's script
        [sys.executable, "-c", KILLED_FIT, str(data), json.dumps(settings)]
    )
    try:
        deadline = time.monotonic() + 120
        while not list((tmp_path / "checkpoints").glob("fit-*.pt")):
            assert fitting.poll() is None, "the fit ended before its first save"
            assert time.monotonic() < deadline, "no checkpoint within 120 s"
            time.sleep(0.05)
        time.sleep(0.5)  # a few more saves; the kill may land in the middle of one
    finally:
        fitting.send_signal(signal.SIGKILL)
        fitting.wait(timeout=30)

    resumed = TransformerFineTuneClassifier(**settings).fit(texts, labels)

    assert resumed.resumed_from_ is not None
    reference = TransformerFineTuneClassifier(**{**settings, "checkpoint_dir": None})
    assert_same_fit(resumed, reference.fit(texts, labels))
