"""Per-prediction explanations for linear text models.

For a linear classifier the score of class *k* is ``sum_j coef[k, j] * x[j]`` over the
vectorized text ``x``, so ``coef[k, j] * x[j]`` is exactly how much feature *j* pushed the
text towards (positive) or against (negative) class *k*. For any other model there is no
such exact decomposition, and the service says so instead of inventing one.

Written against the pipeline's steps generically: calibration wrappers and frozen or searched
estimators are unwrapped, resampling steps are skipped (they only act during fit), and the
feature names come from the last step with ``get_feature_names_out`` (a vectorizer, or a
FeatureUnion of word and character vectorizers).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import sparse

from sentiment_mlops.api.schemas import Explanation, FeatureWeight

METHOD = "coefficient x feature value of the vectorized text"


def unwrap_estimator(model: Any) -> Any:
    """The fitted pipeline inside calibration / frozen / search wrappers."""
    while True:
        if hasattr(model, "calibrated_classifiers_"):  # CalibratedClassifierCV
            model = model.calibrated_classifiers_[0].estimator
        elif hasattr(model, "best_estimator_"):  # GridSearchCV and friends
            model = model.best_estimator_
        elif type(model).__name__ == "FrozenEstimator":
            model = model.estimator
        else:
            return model


def _is_resampler(step: Any) -> bool:
    return hasattr(step, "fit_resample") and not hasattr(step, "transform")


@dataclass(frozen=True)
class LinearExplainer:
    """Explains a fitted ``Pipeline(..., vectorizer, linear classifier)``."""

    transformers: tuple[Any, ...]
    feature_names: np.ndarray
    coefficients: np.ndarray  # (n_classes or 1, n_features)
    classes: tuple[str, ...]

    @classmethod
    def from_model(cls, model: Any) -> LinearExplainer | str:
        """The explainer, or the reason why ``model`` cannot be explained."""
        pipeline = unwrap_estimator(model)
        steps = getattr(pipeline, "steps", None)
        if not steps:
            return f"{type(pipeline).__name__} is not a pipeline of named steps"
        classifier = steps[-1][1]
        coefficients = getattr(classifier, "coef_", None)
        if coefficients is None:
            return (
                f"{type(classifier).__name__} is not a linear model, so its predictions "
                "have no exact per-feature decomposition"
            )
        transformers = tuple(step for _, step in steps[:-1] if not _is_resampler(step))
        named = [step for step in transformers if hasattr(step, "get_feature_names_out")]
        if not named:
            return "no pipeline step names its output features"
        coefficients = np.asarray(
            coefficients.toarray() if sparse.issparse(coefficients) else coefficients
        )
        return cls(
            transformers=transformers,
            feature_names=np.asarray(named[-1].get_feature_names_out(), dtype=object),
            coefficients=coefficients,
            classes=tuple(str(name) for name in classifier.classes_),
        )

    def _class_coefficients(self, label: str) -> np.ndarray:
        index = self.classes.index(label)
        if self.coefficients.shape[0] == 1:  # binary: one row, for classes[1]
            return self.coefficients[0] if index == 1 else -self.coefficients[0]
        return self.coefficients[index]

    def explain(self, text: str, label: str, top_k: int) -> Explanation:
        """The ``top_k`` features that pushed ``text`` most towards and against ``label``."""
        features: Any = np.array([text], dtype=object)
        for step in self.transformers:
            features = step.transform(features)
        row = sparse.csr_matrix(features)
        contributions = row.data * self._class_coefficients(label)[row.indices]
        order = np.argsort(contributions)
        towards = [i for i in order[::-1][:top_k] if contributions[i] > 0]
        against = [i for i in order[:top_k] if contributions[i] < 0]

        def weights(positions: list[int]) -> list[FeatureWeight]:
            return [
                FeatureWeight(
                    feature=str(self.feature_names[row.indices[i]]),
                    weight=float(contributions[i]),
                )
                for i in positions
            ]

        return Explanation(
            available=True, method=METHOD, towards=weights(towards), against=weights(against)
        )


def no_explanation(reason: str) -> Explanation:
    """The honest answer for a model that cannot be explained."""
    return Explanation(available=False, reason=f"No explanation is available: {reason}.")
