"""Custom classifiers for the model comparison, written to scikit-learn's estimator conventions.

``__init__`` only stores parameters, ``fit`` returns ``self`` and learned attributes end in
``_``, so ``clone``, ``GridSearchCV``, pickling and ``mlflow.sklearn`` all work on them.

- :class:`NBSVMClassifier`: NB-SVM (Wang & Manning 2012), a linear model on features scaled
  by their naive-Bayes log-count ratio, one-vs-rest for more than two classes.
- :class:`LabelEncodedClassifier`: lets a classifier that wants integer labels and has no
  ``class_weight`` (XGBoost, MultinomialNB) take string labels and balanced class weights.
- :class:`TextVotingClassifier`: scikit-learn's ``VotingClassifier`` over members that each
  read text (a vectorizer pipeline, a network), so models of different kinds can vote.
- :func:`replace_parts` / :func:`estimator_parts`: the one walk over the fitted estimators
  inside a model (pipeline steps, vote members, frozen and calibrated ones).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from scipy import sparse
from scipy.special import expit
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import VotingClassifier
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.extmath import safe_sparse_dot
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, check_non_negative, validate_data


def _scale_columns(features: Any, ratio: np.ndarray) -> Any:
    """Multiply every column of ``features`` by its ratio, keeping sparse input sparse."""
    if sparse.issparse(features):
        return sparse.csr_matrix(features.multiply(ratio))
    return np.asarray(features) * ratio


def _column_sums(features: Any, weights: np.ndarray | None) -> np.ndarray:
    """Sum of the rows of ``features``, each row counted ``weights`` times (once if ``None``)."""
    if weights is None:
        return np.asarray(features.sum(axis=0)).ravel()
    return np.asarray(features.T @ weights).ravel()


class NBSVMClassifier(ClassifierMixin, BaseEstimator):
    """NB-SVM: logistic regression on features scaled by the naive-Bayes log-count ratio.

    For each class ``k`` (only the positive class when there are two), the ratio is
    ``r = log((p / |p|_1) / (q / |q|_1))`` with ``p = alpha + sum of rows of class k`` and
    ``q = alpha + sum of the other rows``; a binary logistic regression is fitted on
    ``X * r``. With more than two classes the one-vs-rest probabilities are normalised to
    sum to one. Works on counts, binary or TF-IDF features (all non-negative).

    Args:
        alpha: smoothing added to the feature sums (Laplace smoothing).
        C: inverse regularisation strength of each logistic regression.
        class_weight: passed to each logistic regression (``"balanced"`` or ``None``).
        max_iter: iteration cap of each logistic regression.
    """

    def __init__(
        self,
        alpha: float = 1.0,
        C: float = 1.0,
        class_weight: str | dict | None = None,
        max_iter: int = 1000,
    ):
        self.alpha = alpha
        self.C = C
        self.class_weight = class_weight
        self.max_iter = max_iter

    def fit(self, X: Any, y: Any, sample_weight: np.ndarray | None = None) -> NBSVMClassifier:
        """Learn one log-count ratio and one logistic regression per (one-vs-rest) class."""
        X, y = validate_data(self, X, y, accept_sparse="csr", reset=True)
        check_classification_targets(y)
        check_non_negative(
            X,
            "NBSVMClassifier, which needs counts, binary or TF-IDF features (put a count or "
            "TF-IDF vectorizer in front of it)",
        )
        self.classes_, encoded = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(
                "NBSVMClassifier needs at least two classes in y; got one class: "
                f"{list(self.classes_)}."
            )
        weights = None if sample_weight is None else np.asarray(sample_weight, dtype=float)
        if weights is not None and weights.shape != (X.shape[0],):
            raise ValueError(
                f"sample_weight has shape {weights.shape}; give one weight per row of X, "
                f"shape ({X.shape[0]},)."
            )
        targets = [1] if len(self.classes_) == 2 else range(len(self.classes_))
        self.ratios_, self.estimators_ = [], []
        for target in targets:
            is_target = encoded == target
            # Weighted rows count as repeated rows, in the ratio as in the regression.
            positive = self.alpha + _column_sums(
                X[is_target], None if weights is None else weights[is_target]
            )
            negative = self.alpha + _column_sums(
                X[~is_target], None if weights is None else weights[~is_target]
            )
            ratio = np.log(positive / positive.sum()) - np.log(negative / negative.sum())
            model = LogisticRegression(
                C=self.C, class_weight=self.class_weight, max_iter=self.max_iter
            )
            model.fit(_scale_columns(X, ratio), is_target, sample_weight=weights)
            self.ratios_.append(ratio)
            self.estimators_.append(model)
        self.n_iter_ = np.array([model.n_iter_[0] for model in self.estimators_])
        self._set_linear_weights()
        return self

    def _set_linear_weights(self) -> None:
        """``coef_``: one row per one-vs-rest model (one row if binary), each logistic
        regression's coefficients times its log-count ratio, so that ``coef_[k] @ x +
        intercept_[k]`` is exactly model ``k``'s logit. Scoring is then one product with the
        raw features, and the service explains NB-SVM like any linear model.

        Stored column-major (as liblinear stores ``LogisticRegression.coef_``): scipy multiplies
        a sparse matrix by ``coef_.T`` only in C order, and would copy all of a row-major
        ``coef_`` on every call (0.60 ms against 0.01 ms for one text and 56k features)."""
        self.coef_ = np.asfortranarray(
            np.vstack(
                [
                    model.coef_[0] * ratio
                    for model, ratio in zip(self.estimators_, self.ratios_, strict=True)
                ]
            )
        )
        self.intercept_ = np.array([model.intercept_[0] for model in self.estimators_])

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, columns in the order of ``classes_``."""
        check_is_fitted(self)
        X = validate_data(self, X, accept_sparse="csr", reset=False)
        # Each one-vs-rest model's probability, from one product with the unscaled features
        # (scaling X by every ratio and asking each regression took 2x as long on one text).
        scores = expit(safe_sparse_dot(X, self.coef_.T, dense_output=True) + self.intercept_)
        if len(self.classes_) == 2:
            return np.column_stack([1 - scores[:, 0], scores[:, 0]])
        return scores / scores.sum(axis=1, keepdims=True)

    def predict(self, X: Any) -> np.ndarray:
        """The most probable class of each row."""
        probabilities = self.predict_proba(X)  # checks it is fitted before classes_ is read
        return self.classes_[probabilities.argmax(axis=1)]

    def __sklearn_tags__(self):  # noqa: D105 - counts, binary or TF-IDF: sparse, never negative
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.input_tags.positive_only = True
        return tags


class LabelEncodedClassifier(ClassifierMixin, BaseEstimator):
    """Wrap a classifier so it takes string labels and optional balanced class weights.

    XGBoost only accepts labels ``0..n-1``, and neither it nor MultinomialNB has a
    ``class_weight`` parameter. This wrapper encodes the labels, turns ``class_weight``
    into per-row sample weights, fits a clone of ``estimator``, and reports ``classes_``
    as the original labels, so probabilities keep their class names.

    Args:
        estimator: the classifier to wrap (cloned on ``fit``); tune it with
            ``estimator__<param>`` in a grid.
        class_weight: ``"balanced"``, a ``{label: weight}`` dict, or ``None``.
    """

    def __init__(self, estimator: Any = None, class_weight: str | dict | None = None):
        self.estimator = estimator
        self.class_weight = class_weight

    def fit(
        self, X: Any, y: Any, sample_weight: np.ndarray | None = None
    ) -> LabelEncodedClassifier:
        """Encode ``y``, weight the rows, fit the wrapped classifier."""
        if self.estimator is None:
            raise ValueError("LabelEncodedClassifier needs an estimator to wrap; got None.")
        check_classification_targets(y)
        encoder = LabelEncoder().fit(y)
        self.classes_ = encoder.classes_
        weights = None
        if self.class_weight is not None:
            weights = compute_sample_weight(self.class_weight, y)
        if sample_weight is not None:
            weights = sample_weight if weights is None else weights * sample_weight
        self.estimator_ = clone(self.estimator).fit(X, encoder.transform(y), sample_weight=weights)
        return self

    @property
    def n_features_in_(self) -> int:
        """Number of features the wrapped classifier was fitted on."""
        return self.estimator_.n_features_in_

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, columns in the order of ``classes_``."""
        check_is_fitted(self)
        return self.estimator_.predict_proba(X)

    def predict(self, X: Any) -> np.ndarray:
        """The most probable class of each row, as an original label."""
        probabilities = self.predict_proba(X)  # checks it is fitted before classes_ is read
        return self.classes_[probabilities.argmax(axis=1)]

    def __sklearn_tags__(self):  # noqa: D105 - sparse input is fine when the wrapped one takes it
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


class TextVotingClassifier(VotingClassifier):
    """``VotingClassifier`` whose members read the cleaned text, each with its own features.

    Exactly scikit-learn's vote (same parameters, same soft / hard voting); it only declares
    text input, so the model comparison hands it texts (``input: text``) and each member
    brings its own vectorizer (``Pipeline(vectorizer, classifier)``) or is a network of
    :mod:`sentiment_mlops.networks`. That lets an n-gram model and a network vote, where
    ``VotingClassifier`` on the shared features could only combine feature-matrix models.
    """

    def __sklearn_tags__(self):  # noqa: D105 - the input is text, one string per row
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.two_d_array = False
        return tags


def replace_parts(estimator: Any, replace: Callable[[Any], Any]) -> Any:
    """``replace(estimator)``, after putting ``replace(part)`` in the place of every fitted
    estimator inside it, innermost first: pipeline steps (imbalanced-learn's ``Pipeline`` is
    one too), the estimator a ``FrozenEstimator`` wraps, a fitted vote's members and a fitted
    ``CalibratedClassifierCV``'s classifiers, at any depth. Changes ``estimator`` in place;
    deep-copy it first to keep the original."""
    if isinstance(estimator, Pipeline):
        estimator.steps = [(name, replace_parts(step, replace)) for name, step in estimator.steps]
    elif isinstance(estimator, FrozenEstimator):
        estimator.estimator = replace_parts(estimator.estimator, replace)
    elif isinstance(estimator, VotingClassifier) and hasattr(estimator, "estimators_"):
        # The fitted members; a vote's FrozenEstimator members are also its `estimators`.
        estimator.estimators_ = [replace_parts(member, replace) for member in estimator.estimators_]
    elif isinstance(estimator, CalibratedClassifierCV):
        for fitted in getattr(estimator, "calibrated_classifiers_", []):
            fitted.estimator = replace_parts(fitted.estimator, replace)
    return replace(estimator)


def estimator_parts(estimator: Any) -> list[Any]:
    """Every fitted estimator inside ``estimator`` (as :func:`replace_parts` walks them,
    innermost first), then ``estimator`` itself."""
    parts: list[Any] = []

    def collect(part: Any) -> Any:
        parts.append(part)
        return part

    replace_parts(estimator, collect)
    return parts
