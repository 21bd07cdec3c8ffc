"""The served model: loaded once from MLflow, then scored without Kedro's per-call costs.

The packaged ``KedroPipelineModel`` stays the source of truth: its inference pipeline and its
fitted artifacts are what the service uses. Its own ``predict`` deep-copies the whole loaded
catalog and runs a Kedro runner on every call (hundreds of milliseconds with a large
vectorizer), so the service takes the fitted estimator it loaded and scores it with
:func:`~sentiment_mlops.prediction.predict_scores`, the computation the inference node
:func:`~sentiment_mlops.pipelines.inference.nodes.predict_sentiment` lays out as a table:
the same probabilities, labels and confidences, without building a DataFrame per request.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import sklearn
from mlflow.tracking import MlflowClient

from sentiment_mlops.api.explanations import LinearExplainer, no_explanation
from sentiment_mlops.api.schemas import Explanation, ModelCard
from sentiment_mlops.hooks import GIT_COMMIT_TAG, TRAIN_DATA_HASH_TAG
from sentiment_mlops.mlflow_registry import load_packaged_model
from sentiment_mlops.prediction import ClassScores, TextScores, predict_scores

logger = logging.getLogger(__name__)

#: The run metric the evaluation pipeline records the model's "uncertain" threshold in.
UNCERTAIN_BELOW_METRIC = "validation.uncertain_below_confidence"

REGISTRY_URI_RE = re.compile(r"^models:/(?P<name>[^/@]+)(?:@(?P<alias>[^/]+)|/(?P<version>\d+))$")


def _model_card(uri: str, pyfunc_model: Any, estimator: Any, explainable: bool) -> ModelCard:
    """Registry and run facts about the model; what MLflow cannot tell stays ``None``.

    A local model directory is described by its MLmodel file only: the service does not
    guess which tracking server it came from.
    """
    name = version = None
    aliases: list[str] = []
    run_id = pyfunc_model.metadata.run_id
    from_store = uri.startswith(("models:/", "runs:/"))
    client = MlflowClient() if from_store else None
    match = REGISTRY_URI_RE.match(uri)
    if match and client is not None:
        name = match["name"]
        model_version = (
            client.get_model_version_by_alias(name, match["alias"])
            if match["alias"]
            else client.get_model_version(name, match["version"])
        )
        version, run_id, aliases = (
            model_version.version,
            model_version.run_id,
            model_version.aliases,
        )
    params: dict[str, str] = {}
    tags: dict[str, str] = {}
    metrics: dict[str, float] = {}
    if run_id and client is not None:
        try:
            run = client.get_run(run_id)
            params, tags, metrics = run.data.params, run.data.tags, run.data.metrics
        except Exception as error:  # the run may live in a store this service cannot reach
            logger.warning("No run details for the model card (%s)", error)
    return ModelCard(
        model_uri=uri,
        registered_name=name,
        version=str(version) if version is not None else None,
        aliases=list(aliases),
        run_id=run_id,
        source=params.get("source"),
        train_data_sha256=tags.get(TRAIN_DATA_HASH_TAG),
        git_commit=tags.get(GIT_COMMIT_TAG) or tags.get("mlflow.source.git.commit"),
        classes=[str(name) for name in estimator.classes_],
        calibrated=hasattr(estimator, "calibrated_classifiers_"),
        explainable=explainable,
        uncertain_below=metrics.get(UNCERTAIN_BELOW_METRIC),
        metrics=metrics,
    )


class ScoredBy(NamedTuple):
    """A text's scores and the model that gave them (the one served when its batch ran)."""

    model: ServedModel
    scores: TextScores


@dataclass(frozen=True)
class ServedModel:
    """The fitted estimator, what the service knows about it, and how to explain it."""

    estimator: Any
    card: ModelCard
    explainer: LinearExplainer | None
    no_explanation_reason: str | None

    @classmethod
    def load(cls, uri: str) -> ServedModel:
        """Load ``uri`` once (MLflow registry URI or local directory)."""
        pyfunc_model, estimator = load_packaged_model(uri)
        explainer = LinearExplainer.from_model(estimator)
        reason = explainer if isinstance(explainer, str) else None
        explainer = None if reason else explainer
        card = _model_card(uri, pyfunc_model, estimator, explainable=explainer is not None)
        return cls(estimator, card, explainer, reason)

    def min_confidence(self, setting: float | None) -> tuple[float | None, str]:
        """The "uncertain" threshold in effect and where it comes from: the service's setting
        when there is one (``"setting"``), else the one the model recorded (``"model"``)."""
        if setting is not None:
            return setting, "setting"
        if self.card.uncertain_below is not None:
            return self.card.uncertain_below, "model"
        return None, "none"

    def predict(self, texts: list[str]) -> ClassScores:
        """Label, confidence and per-class probabilities of ``texts`` (raw, validated texts),
        the numbers the inference node gives for them."""
        # The object array the inference node passes too (a str array would differ in type).
        # The hyper-parameters were validated when the model was fitted, and features made
        # from text are finite: checking either again on every call costs ~10% of scoring
        # one text and cannot change a result.
        with sklearn.config_context(skip_parameter_validation=True, assume_finite=True):
            return predict_scores(self.estimator, np.asarray(texts, dtype=object))

    def explain(self, text: str, label: str, top_k: int) -> Explanation:
        """Features for and against ``label``, or why there is no explanation."""
        if self.explainer is None:
            return no_explanation(self.no_explanation_reason or "unknown model type")
        return self.explainer.explain(text, label, top_k)
