"""scikit-learn's estimator checks for the estimators that read text.

An estimator whose input tags say text (``string=True, two_d_array=False``, as scikit-learn's own
``CountVectorizer`` says) gets only ``check_estimator_cloneable`` from ``parametrize_with_checks``:
scikit-learn skips every other check, since they all feed numeric matrices. So that the text
estimators are held to the same conventions, :func:`parametrize_with_text_checks` runs what
``parametrize_with_checks`` runs, then scikit-learn's checks that feed no data (parameters,
``__init__``, ``set_params``, repr, tags, ``NotFittedError``), then the conventions that need a fit,
checked here on a few texts: ``fit`` returns ``self``, leaves the parameters alone and adds only
attributes ending in ``_``; a clone of a fitted estimator is unfitted; a fitted estimator pickles.
"""

from __future__ import annotations

import pickle
import warnings
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

import joblib
import numpy as np
import pytest
from scipy import sparse
from sklearn.base import clone, is_classifier
from sklearn.exceptions import NotFittedError, SkipTestWarning
from sklearn.utils import get_tags
from sklearn.utils.estimator_checks import (
    check_do_not_raise_errors_in_init_or_set_params,
    check_estimator_repr,
    check_estimator_tags_renamed,
    check_estimators_unfitted,
    check_get_params_invariance,
    check_mixin_order,
    check_no_attributes_set_in_init,
    check_parameters_default_constructible,
    check_set_params,
    check_valid_tag_types,
    estimator_checks_generator,
)

TEXTS = [
    "great crew and a smooth flight",
    "lost my bag again, awful",
    "the flight was ok i guess",
    "love the new seats",
    "two hour delay and rude staff",
    "landed on time",
] * 4
LABELS = ["positive", "negative", "neutral", "positive", "negative", "neutral"] * 4

#: scikit-learn's checks that never fit on data, so they hold for text estimators as they are.
CHECKS_WITHOUT_DATA = (
    check_estimator_tags_renamed,
    check_valid_tag_types,
    check_estimator_repr,
    check_no_attributes_set_in_init,
    check_do_not_raise_errors_in_init_or_set_params,
    check_mixin_order,
    check_get_params_invariance,
    check_set_params,
    check_parameters_default_constructible,
)


def _fit(estimator: Any) -> Any:
    return estimator.fit(TEXTS, LABELS)


def _output(estimator: Any) -> np.ndarray:
    """What a fitted estimator makes of the texts: probabilities, or the transformed texts."""
    if hasattr(estimator, "predict_proba"):
        return estimator.predict_proba(TEXTS)
    output = estimator.transform(TEXTS)
    return output.toarray() if sparse.issparse(output) else np.asarray(output)


def check_fit_returns_self(name: str, estimator: Any) -> None:
    estimator = clone(estimator)
    assert _fit(estimator) is estimator, f"{name}.fit must return self."


def check_fit_leaves_params_alone(name: str, estimator: Any) -> None:
    """As scikit-learn's ``check_estimators_overwrite_params``: ``fit`` changes no parameter."""
    estimator = clone(estimator)
    before = {key: joblib.hash(value) for key, value in estimator.get_params().items()}
    _fit(estimator)
    after = {key: joblib.hash(value) for key, value in estimator.get_params().items()}
    changed = sorted(key for key in before if before[key] != after[key])
    assert not changed, f"{name}.fit changed the parameters {changed}."


def check_fit_adds_only_learned_attributes(name: str, estimator: Any) -> None:
    """As scikit-learn's ``check_dont_overwrite_parameters``: new public attributes end in ``_``."""
    estimator = clone(estimator)
    before = dict(vars(estimator))
    _fit(estimator)
    added = [key for key in vars(estimator) if key not in before and not key.startswith("_")]
    unlearned = sorted(key for key in added if not key.endswith("_"))
    assert not unlearned, f"{name}.fit added public attributes not ending in '_': {unlearned}."


def check_fitted_clone_is_unfitted(name: str, estimator: Any) -> None:
    copy = clone(_fit(clone(estimator)))
    with pytest.raises(NotFittedError):
        _output(copy)


def check_fitted_pickle_gives_the_same_output(name: str, estimator: Any) -> None:
    fitted = _fit(clone(estimator))
    restored = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(_output(restored), _output(fitted), err_msg=name)


def check_classifier_learns_classes(name: str, estimator: Any) -> None:
    """``classes_`` holds the sorted labels; probabilities follow its order and sum to one."""
    fitted = _fit(clone(estimator))
    assert fitted.classes_.tolist() == sorted(set(LABELS)), name
    probabilities = fitted.predict_proba(TEXTS)
    assert probabilities.shape == (len(TEXTS), len(fitted.classes_))
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-6)
    predicted = fitted.predict(TEXTS)
    np.testing.assert_array_equal(predicted, fitted.classes_[probabilities.argmax(axis=1)])


def check_classifier_refuses_continuous_targets(name: str, estimator: Any) -> None:
    """As scikit-learn's ``check_classifiers_regression_target``."""
    targets = np.linspace(0.0, 1.0, len(TEXTS))
    with pytest.raises(ValueError, match="Unknown label type|continuous"):
        clone(estimator).fit(TEXTS, targets)


TEXT_CHECKS = (
    check_fit_returns_self,
    check_fit_leaves_params_alone,
    check_fit_adds_only_learned_attributes,
    check_fitted_pickle_gives_the_same_output,
)


def text_checks(estimator: Any) -> Iterator[tuple[Any, Callable[[Any], None]]]:
    """(estimator, check) pairs: scikit-learn's own, then those on texts."""
    with warnings.catch_warnings():
        # The checks scikit-learn skips, saying so with this warning, are replaced below.
        warnings.simplefilter("ignore", SkipTestWarning)
        yield from estimator_checks_generator(estimator, mark="xfail")
    name = type(estimator).__name__
    checks = list(CHECKS_WITHOUT_DATA) + list(TEXT_CHECKS)
    if get_tags(estimator).requires_fit:
        checks += [check_estimators_unfitted, check_fitted_clone_is_unfitted]
    if is_classifier(estimator):
        checks += [check_classifier_learns_classes, check_classifier_refuses_continuous_targets]
    for check in checks:
        yield estimator, partial(check, name)


def _check_id(value: Any) -> str:
    if isinstance(value, partial):
        return value.func.__name__
    return type(value).__name__


def parametrize_with_text_checks(estimators: list[Any]) -> pytest.MarkDecorator:
    """``parametrize_with_checks`` for text estimators: parametrizes ``estimator, check``."""
    return pytest.mark.parametrize(
        ("estimator", "check"),
        [pair for estimator in estimators for pair in text_checks(estimator)],
        ids=_check_id,
    )
