"""`kedro run --env pretrained` end to end on a small airline sample with the real
all-MiniLM-L6-v2 weights: the frozen-feature candidate, the fine-tuned encoder (one epoch) and
their vote are compared, the best is registered and promoted, and the service serves it: in
this process, and in the image built with the `pretrained` extra.

The environment is conf/pretrained as written, made small: one grid point, one epoch, and only
the pretrained candidates (so that the champion is one of them whatever the sample says).
"""

from __future__ import annotations

import json
import os
import pickle
import re
import shutil
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import mlflow
import pandas as pd
import pytest
import yaml
from mlflow.tracking import MlflowClient

from sentiment_mlops.api.model import UNCERTAIN_BELOW_METRIC
from sentiment_mlops.estimators import estimator_parts
from tests.api.conftest import Service, start_service
from tests.support.docker import (
    Docker,
    build_image,
    post,
    registered_model_dir,
    run_model_container,
    served_model,
)
from tests.support.projects import PROJECT_ROOT, TrainedProject, kedro, tool_env, write_project
from tests.support.servers import answers, free_port, start_server, wait_until

pytestmark = pytest.mark.system

PRETRAINED = ["minilm_logreg", "minilm_finetune", "minilm_linear_vote"]


def small_pretrained_parameters() -> dict:
    """conf/pretrained's candidates and vote with one grid point and one epoch each."""
    conf = yaml.safe_load((PROJECT_ROOT / "conf/pretrained/parameters_training.yml").read_text())
    candidates = conf["extra_candidates"]
    candidates["minilm_logreg"]["grid"] = {"classifier__classifier__C": [1.0]}
    candidates["minilm_finetune"]["params"].update(max_epochs=1, verbose=False)
    return {
        "candidates": {},  # the base candidates stay out: a pretrained model must win
        "extra_candidates": {name: candidates[name] for name in PRETRAINED[:2]},
        "votes": {
            "minilm_linear_vote": {**conf["votes"]["minilm_linear_vote"], "members": PRETRAINED[:2]}
        },
    }


@pytest.fixture(scope="module")
def pretrained_project(tmp_path_factory, source_samples) -> TrainedProject:
    project = tmp_path_factory.mktemp("pretrained_project")
    write_project(project, source_samples)
    (project / "conf/pretrained").mkdir()
    # The sample sources: conf/local declares them, and `--env pretrained` does not read it.
    shutil.copy(project / "conf/local/catalog.yml", project / "conf/pretrained/catalog.yml")
    (project / "conf/pretrained/parameters_training.yml").write_text(
        yaml.safe_dump(small_pretrained_parameters())
    )
    tracking_uri = f"sqlite:///{(project / 'mlflow.db').as_posix()}"
    run = kedro(project, "run", "--env", "pretrained", env=tool_env(project, tracking_uri))
    assert run.returncode == 0, f"{run.stdout[-3000:]}{run.stderr[-5000:]}"
    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    champion = client.get_model_version_by_alias("sentiment", "champion")
    return TrainedProject(project, tracking_uri, str(champion.version), champion.run_id)


@pytest.fixture(scope="module")
def pretrained_service(pretrained_project, tmp_path_factory) -> Iterator[Service]:
    running = start_service(tmp_path_factory.mktemp("service_cwd"), pretrained_project.env())
    yield running
    running.stop()


def test_the_pretrained_candidates_are_compared_and_the_best_is_registered_and_promoted(
    pretrained_project,
):
    project = pretrained_project.workdir
    comparison = pd.read_csv(project / "data/08_reporting/model_comparison.csv")
    assert sorted(comparison["model"]) == sorted(PRETRAINED)
    winner = comparison.loc[comparison["rank"] == 1, "model"].item()
    client = MlflowClient(pretrained_project.tracking_uri)
    run = client.get_run(pretrained_project.run_id)
    assert run.data.tags["selected_model"] == winner
    decision = json.loads((project / "data/08_reporting/promotion.json").read_text())
    assert decision["promoted"] is True  # the store's first version
    assert pretrained_project.version == "1"
    # The vote is at least as good as either member on validation (its grid holds both alone).
    scores = comparison.set_index("model")["val_macro_f1"]
    assert scores["minilm_linear_vote"] >= max(scores["minilm_logreg"], scores["minilm_finetune"])
    # The served model runs the fine-tuned encoder, where it holds one, on ONNX Runtime
    # (serving.runtime: onnx, float32): the served labels are the tested model's.
    served = pickle.loads((project / "data/06_models/calibrated_sentiment_model.pkl").read_bytes())
    runtimes = {type(part).__name__ for part in estimator_parts(served)}
    holds_transformer = winner != "minilm_logreg"
    assert ("OnnxTextClassifier" in runtimes) == holds_transformer
    assert "TransformerFineTuneClassifier" not in runtimes
    calibration = json.loads((project / "data/08_reporting/calibration_metrics.json").read_text())
    assert calibration["served_label_agreement"] == 1.0
    # The fine-tuned encoder logged its one epoch, with its duration, in its nested run.
    finetune_run = comparison.set_index("model").loc["minilm_finetune", "mlflow_run_id"]
    history = client.get_metric_history(finetune_run, "finetune_epoch_seconds")
    assert [point.step for point in history] == [1] and history[0].value > 0
    # The packaged model installs the deep stack its estimator needs.
    registry = MlflowClient(
        tracking_uri=pretrained_project.tracking_uri, registry_uri=pretrained_project.tracking_uri
    )
    location = registry.get_model_version_download_uri("sentiment", pretrained_project.version)
    requirements = mlflow.artifacts.download_artifacts(
        artifact_uri=f"{location}/requirements.txt",
        tracking_uri=pretrained_project.tracking_uri,
    )
    pins = Path(requirements).read_text()
    assert "torch==" in pins and "transformers==" in pins and "onnxruntime==" in pins


def test_the_service_serves_the_pretrained_champion(pretrained_project, pretrained_service):
    with pretrained_service.client() as client:
        card = client.get("/model").json()
        answer = client.post(
            "/predict", params={"explain": "true"}, json={"text": "@united not bad at all, thanks!"}
        ).json()
        batch = client.post(
            "/predict/batch", json={"texts": ["my bag is lost again", "what time is boarding?"]}
        ).json()["predictions"]
    assert card["version"] == pretrained_project.version
    assert card["classes"] == ["negative", "neutral", "positive"]
    recorded = (
        MlflowClient(pretrained_project.tracking_uri)
        .get_run(pretrained_project.run_id)
        .data.metrics[UNCERTAIN_BELOW_METRIC]
    )
    assert (card["min_confidence"], card["min_confidence_from"]) == (recorded, "model")
    assert answer["label"] == max(answer["scores"], key=answer["scores"].get)
    assert answer["uncertain"] == (answer["confidence"] < recorded)
    # Not a linear model: the answer says so instead of inventing word weights.
    assert answer["explanation"]["available"] is False
    assert answer["explanation"]["reason"].startswith("No explanation is available")
    assert [prediction["label"] for prediction in batch] == [
        max(prediction["scores"], key=prediction["scores"].get) for prediction in batch
    ]


TEXTS = [
    "@united not bad at all, thanks for the upgrade!",
    "@AmericanAir my bag is lost again and nobody answers",
    "@SouthwestAir what time does boarding start?",
]


@pytest.fixture(scope="module")
def torch_wheels() -> Iterator[str | None]:
    """Where the image build finds torch's CPU wheel. The Dockerfile's default is PyTorch's
    own page; where pip is told of a local folder of wheels (PIP_FIND_LINKS, as on this
    project's CI machines, which cannot reach that page) it is served on loopback instead:
    the build runs on the host's network. The lock's hash is checked either way."""
    folders = [f for f in os.environ.get("PIP_FIND_LINKS", "").split() if Path(f).is_dir()]
    if not folders:
        yield None
        return
    port = free_port()
    command = [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(port)]
    with start_server(
        [*command, "--directory", folders[0]], f"http://127.0.0.1:{port}/", timeout=30
    ):
        yield f"http://127.0.0.1:{port}/"


@pytest.fixture(scope="module")
def pretrained_image(docker: Docker, base_image: str, torch_wheels: str | None) -> str:
    """`docker build --build-arg EXTRAS=pretrained .`: the session's image plus the extra."""
    wheels = {"TORCH_WHEELS": torch_wheels} if torch_wheels else {}
    return build_image(
        docker, "sentiment-mlops:smoke-test-pretrained", EXTRAS="pretrained", **wheels
    )


@pytest.fixture(scope="module")
def champion_dir(pretrained_project, tmp_path_factory) -> Path:
    return registered_model_dir(pretrained_project, tmp_path_factory.mktemp("champion"))


def test_the_image_with_the_pretrained_extra_serves_the_champion(
    docker, pretrained_image, champion_dir
):
    expected = mlflow.pyfunc.load_model(str(champion_dir)).predict(pd.DataFrame({"text": TEXTS}))
    with served_model(docker, pretrained_image, champion_dir) as (base, name):
        status, answer = post(f"{base}/predict/batch", {"texts": TEXTS})
        runtime = docker("exec", name, "python", "-c", "import onnxruntime, torch; print('ok')")
    assert runtime.strip() == "ok"
    assert status == 200, answer
    for prediction, (_, row) in zip(answer["predictions"], expected.iterrows(), strict=True):
        assert prediction["label"] == row["label"]
        # The same ONNX Runtime build on the same CPU as in this process.
        for label, score in prediction["scores"].items():
            assert score == pytest.approx(row[label], abs=1e-6)


def test_the_image_without_the_extra_says_how_to_serve_a_transformer(docker, image, champion_dir):
    """The plain image stays running and not ready, and /ready names the build argument."""
    base, name = run_model_container(docker, image, champion_dir)
    try:
        reason = ""

        def said_why() -> bool:
            nonlocal reason
            try:
                urllib.request.urlopen(f"{base}/ready", timeout=5)
            except urllib.error.HTTPError as error:
                reason = json.loads(error.read())["error"]["message"]
            except OSError:
                return False
            return "EXTRAS=pretrained" in reason

        wait_until(
            said_why,
            what=f"{name} to say why it cannot serve",
            timeout=120,
            interval=1,
            output=lambda: f"/ready: {reason}\n{docker('logs', name, check=False)}",
        )
        # Which one it names depends on what the pickle reaches first; all are in the extra.
        assert re.search(r"needs the Python package '(torch|transformers|onnxruntime)'", reason)
        assert answers(f"{base}/health")
        assert docker("inspect", "--format", "{{.State.Status}}", name).strip() == "running"
    finally:
        docker("rm", "--force", name, check=False)


def test_an_unknown_extra_stops_the_build_with_the_extras_on_offer(docker, base_image):
    with pytest.raises(AssertionError, match="no such extra lock; the image offers: pretrained"):
        build_image(docker, "sentiment-mlops:smoke-test-unknown-extra", EXTRAS="gpu")
