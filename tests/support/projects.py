"""Small, real, trained copies of the project, for the tests that need a model.

A copy holds the committed ``pyproject.toml``, ``conf/base`` and ``notebooks/``, a stratified
sample of every source (read with the project's own ``SentimentSourceDataset`` from
``$SENTIMENT_DATA_MIRROR``, never committed) and the small candidate set of ``conf/test``.
``train_project`` runs ``kedro run`` in it as a user types it, with a temporary SQLite MLflow
store; the run registers the packaged model as ``sentiment`` version 1 and gives it the
``champion`` alias.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd
import yaml
from mlflow.tracking import MlflowClient

from sentiment_mlops.datasets import SentimentSourceDataset
from sentiment_mlops.mlflow_registry import CHAMPION_ALIAS
from sentiment_mlops.mlflow_registry import REGISTERED_MODEL_NAME as MODEL_NAME

PROJECT_ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
SAMPLE_ROWS = {"airline": 1500}  # enough for a model whose mistakes mean something
DEFAULT_SAMPLE_ROWS = 300
STORE = "mlflow.db"
_ARTIFACTS = shutil.ignore_patterns("mlruns")  # the runs' artifact files, see copy()

# Runs a Kedro session with the project copy as the project path: Kedro resolves the
# catalog's relative data paths against it, so nothing is written into the checkout.
_RUN_SESSION = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project

    project, pipeline, params = Path(sys.argv[1]), sys.argv[2], json.loads(sys.argv[3])
    bootstrap_project(project)
    with KedroSession.create(project_path=project, runtime_params=params) as session:
        session.run(pipeline_names=[pipeline])
    """
)

# Loads a registered model with MLflow alone (no project, no Kedro session) and predicts.
_LOAD_AND_PREDICT = textwrap.dedent(
    """
    import sys, mlflow, pandas as pd
    texts = pd.read_csv(sys.argv[1])["text"]
    model = mlflow.pyfunc.load_model(sys.argv[3])
    model.predict(pd.DataFrame({"text": texts})).to_parquet(sys.argv[2])
    """
)


def run_command(
    command: list[str | Path], cwd: Path, env: dict[str, str], timeout: int = 600
) -> subprocess.CompletedProcess:
    """Run ``command`` in ``cwd`` with its output captured as text; the caller checks it."""
    return subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def kedro(
    project: Path, *args: str, env: dict[str, str], timeout: int = 600
) -> subprocess.CompletedProcess:
    """Run this venv's ``kedro`` CLI in ``project``; returns the CompletedProcess."""
    return run_command([VENV_BIN / "kedro", *args], project, env, timeout)


@dataclass(frozen=True)
class TrainedProject:
    """Where a training run left its outputs. Treat it as read-only: other tests read the same
    MLflow store; :meth:`kedro_run` and :meth:`copy` give a private copy to run more in."""

    workdir: Path
    tracking_uri: str
    version: str
    run_id: str

    def env(self, **extra: str) -> dict[str, str]:
        """Environment for child processes (CLIs, servers) that use this project and its store."""
        return tool_env(self.workdir, self.tracking_uri) | extra

    def copy(self, destination: Path) -> TrainedProject:
        """A copy of the project and its MLflow store at ``destination`` (which must not exist).

        The store names its artifacts by absolute paths, in this project's ``mlruns``: a copy
        reads the same registered model from there, and the artifact files of the copy's own
        runs land there too (new folders that this project's store does not list).
        """
        shutil.copytree(self.workdir, destination, symlinks=True, ignore=_ARTIFACTS)
        return replace(
            self,
            workdir=destination,
            tracking_uri=f"sqlite:///{(destination / STORE).as_posix()}",
        )

    def kedro_run(
        self,
        pipeline: str,
        params: dict | None = None,
        *,
        files: dict[str, str] | None = None,
        **env: str,
    ) -> str:
        """Run one pipeline in a fresh process, in a private copy of the project (next to it),
        so that its runs never show up in the store the other tests read; returns its log.
        ``files`` (relative path -> text) are written into the copy first."""
        copies = self.workdir.parent / f"{self.workdir.name}-runs"
        copies.mkdir(exist_ok=True)
        index = sum(1 for _ in copies.iterdir())
        project = self.copy(copies / f"{pipeline}-{index}")
        for relative, text in (files or {}).items():
            (project.workdir / relative).write_text(text)
        return run_session(project.workdir, pipeline, params or {}, project.env(**env))

    def packaged_predictions(
        self, texts: list[str], outside: Path, uri: str = f"models:/{MODEL_NAME}@{CHAMPION_ALIAS}"
    ) -> pd.DataFrame:
        """The packaged model's predictions for ``texts``, loaded from the registry by a fresh
        Python process working in ``outside`` (neither the project nor the checkout)."""
        instances, output = outside / "packaged_input.csv", outside / "packaged.parquet"
        pd.DataFrame({"text": texts}).to_csv(instances, index=False)
        subprocess.run(
            [sys.executable, "-c", _LOAD_AND_PREDICT, str(instances), str(output), uri],
            cwd=outside,
            env=self.env(),
            check=True,
            capture_output=True,
            timeout=300,
        )
        return pd.read_parquet(output)


_MLFLOW_RUN_STATE = {"MLFLOW_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_NAME", "MLFLOW_RUN_ID"}


def tool_env(project: Path, tracking_uri: str) -> dict[str, str]:
    """Environment for a CLI run inside ``project``: no telemetry, its own MLflow store."""
    # An in-process run of an earlier test may have left its experiment or run in the
    # environment; a child process must use its own store's.
    inherited = {key: value for key, value in os.environ.items() if key not in _MLFLOW_RUN_STATE}
    return {
        **inherited,
        "KEDRO_DISABLE_TELEMETRY": "true",
        "DO_NOT_TRACK": "true",
        "MLFLOW_TRACKING_URI": tracking_uri,
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        # Jupyter keeps kernel specs and runtime files per user: keep them inside the copy.
        "JUPYTER_DATA_DIR": str(project / ".jupyter-data"),
        "JUPYTER_RUNTIME_DIR": str(project / ".jupyter-runtime"),
        "IPYTHONDIR": str(project / ".ipython"),
    }


def session_command(workdir: Path, pipeline: str, params: dict) -> list[str]:
    """The command that runs one Kedro pipeline of the project at ``workdir`` in a child
    process, the way ``kedro run`` does (for a test that starts it itself)."""
    return [sys.executable, "-c", _RUN_SESSION, str(workdir), pipeline, json.dumps(params)]


def run_session(workdir: Path, pipeline: str, params: dict, env: dict) -> str:
    """Run one Kedro pipeline of the project in a child process; fail with its output."""
    result = subprocess.run(
        session_command(workdir, pipeline, params),
        cwd=workdir,
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if result.returncode != 0:
        raise AssertionError(f"kedro run --pipelines {pipeline} failed:\n{result.stderr[-5000:]}")
    return result.stderr + result.stdout


def _stratified_sample(frame: pd.DataFrame, label_column: str, rows: int) -> pd.DataFrame:
    share = min(1.0, rows / len(frame))
    return frame.groupby(label_column, group_keys=False).sample(frac=share, random_state=0)


def source_samples() -> dict[str, pd.DataFrame]:
    """A stratified sample of every source's canonical ``(text, label)`` table, each source read
    as ``_sources`` in the catalog declares it (data/01_raw, then ``$SENTIMENT_DATA_MIRROR``,
    then the pinned URL)."""
    sources = yaml.safe_load((PROJECT_ROOT / "conf/base/catalog.yml").read_text())["_sources"]
    samples = {}
    for name in sources:
        canonical = SentimentSourceDataset(
            source=name, sources=sources, raw_dir=str(PROJECT_ROOT / "data/01_raw")
        ).load()
        rows = SAMPLE_ROWS.get(name, DEFAULT_SAMPLE_ROWS)
        samples[name] = _stratified_sample(canonical, "label", rows)[["text", "label"]]
    return samples


def use_test_candidates(project: Path, parameters: dict | None = None) -> None:
    """Give a copy of the project conf/test's small candidate set in its conf/base, so that every
    environment of the copy (``local``, ``aws``) trains it; ``parameters`` then replace
    top-level keys of the training parameters.

    For tests of something else than the model search itself (tools, S3, DVC, serving).
    """
    path = project / "conf/base/parameters_training.yml"
    training = yaml.safe_load(path.read_text())
    small = yaml.safe_load((PROJECT_ROOT / "conf/test/parameters_training.yml").read_text())
    path.write_text(yaml.safe_dump(training | small | (parameters or {}), sort_keys=False))


def write_project(
    project: Path, samples: dict[str, pd.DataFrame], parameters: dict | None = None
) -> None:
    """Lay out a project copy in ``project`` whose sources are ``samples`` and whose candidates
    are conf/test's (``parameters``: see :func:`use_test_candidates`)."""
    for name in ("pyproject.toml", "requirements.lock"):  # the lock: the models' requirements
        shutil.copy(PROJECT_ROOT / name, project)
    shutil.copytree(PROJECT_ROOT / "conf/base", project / "conf/base")
    shutil.copytree(PROJECT_ROOT / "notebooks", project / "notebooks")
    # The package is imported from the checkout (installed editable); Kedro only checks that
    # the project's source folder exists, and refuses a symlink that leaves the project.
    (project / "src").mkdir()
    local = project / "conf/local"
    local.mkdir()
    for layer in sorted(p.name for p in (PROJECT_ROOT / "data").iterdir() if p.is_dir()):
        (project / "data" / layer).mkdir(parents=True)
    samples_dir = project / "data/01_raw/samples"
    samples_dir.mkdir()
    base_catalog = yaml.safe_load((PROJECT_ROOT / "conf/base/catalog.yml").read_text())
    declarations = {}
    for name, sample in samples.items():
        sample.to_csv(samples_dir / f"{name}.csv", index=False)
        labels = sorted(set(sample["label"]))
        declarations[name] = {
            "reader": "csv",
            "files": [{"path": f"samples/{name}.csv"}],
            "text_column": "text",
            "label_column": "label",
            "label_map": dict(zip(labels, labels, strict=True)),
        }
    # Same selection rule as conf/base: `--params source=<name>` picks one sample.
    local_catalog = {
        "_samples": declarations,
        "raw_texts": {**base_catalog["raw_texts"], "sources": "${_samples}"},
    }
    (local / "catalog.yml").write_text(yaml.safe_dump(local_catalog))
    use_test_candidates(project, parameters)


def train_project(
    project: Path, samples: dict[str, pd.DataFrame], parameters: dict | None = None
) -> TrainedProject:
    """Write a project copy (:func:`write_project`), ``kedro run`` it, check the registration."""
    write_project(project, samples, parameters)
    tracking_uri = f"sqlite:///{(project / STORE).as_posix()}"
    run = kedro(project, "run", env=tool_env(project, tracking_uri))
    if run.returncode != 0:
        raise AssertionError(f"kedro run failed:\n{run.stdout[-3000:]}{run.stderr[-5000:]}")
    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    versions = client.search_model_versions(f"name='{MODEL_NAME}'")
    if len(versions) != 1:
        raise AssertionError(f"expected one registered version, got {len(versions)}")
    # The run itself registered the packaged model and gave it the alias (PromotionHook).
    champion = client.get_model_version_by_alias(MODEL_NAME, CHAMPION_ALIAS)
    if champion.version != versions[0].version:
        raise AssertionError(f"{CHAMPION_ALIAS} is version {champion.version}, not the new one")
    return TrainedProject(project, tracking_uri, str(champion.version), champion.run_id)
