"""Candidate models checked and planned from their configuration, before anything is fitted.

A candidate is an entry under ``candidates`` (or an environment's ``extra_candidates``):
an estimator spec (:mod:`sentiment_mlops.estimator_spec`), its own ``grid`` over the shared
feature grid, ``input: text`` for a classifier that reads the cleaned text itself (the
PyTorch networks of ``sentiment_mlops.networks``: its vectorizer and sampler are
``"passthrough"`` and the feature grid does not apply; ``raw_text``: the text uncleaned),
``feature_blocks`` that extend the shared vectorizer for this candidate only (sentence
embeddings beside the n-grams), and a ``search`` block over the shared search options
(``cv_folds: 0``: one grid point, fitted once).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from imblearn.pipeline import Pipeline as ImbPipeline
from sklearn.base import BaseEstimator, clone
from sklearn.model_selection import ParameterGrid
from sklearn.pipeline import FeatureUnion
from sklearn.utils import get_tags

from sentiment_mlops.estimator_spec import SAMPLER_STEP, build_estimator, parse_grid

# What a candidate's classifier reads: the feature pipeline's output, the cleaned text, or
# the text as written.
CANDIDATE_INPUTS = ("features", "text", "raw_text")
# The inputs of a classifier that reads texts itself (its vectorizer and sampler: passthrough).
TEXT_INPUTS = ("text", "raw_text")
# The feature pipeline's steps: "passthrough" for a candidate that reads text.
FEATURE_STEPS = ("vectorizer", SAMPLER_STEP)
# A single vectorizer's branch name once a candidate's feature_blocks join it.
SINGLE_VECTORIZER_BRANCH = "ngrams"


# Where GridSearchCV's fits run (search.backend): see training/search.py.
SEARCH_BACKENDS = ("local", "dask")


def all_candidates(
    candidates: dict[str, dict[str, Any]], extra_candidates: dict[str, dict[str, Any]] | None
) -> dict[str, dict[str, Any]]:
    """``candidates`` followed by ``extra_candidates`` (an environment's additions), without
    those set to null (left out of the run: ``benchmarks/quality.py --candidates``)."""
    candidates = {name: spec for name, spec in candidates.items() if spec is not None}
    extra = {name: spec for name, spec in (extra_candidates or {}).items() if spec is not None}
    clashes = sorted(set(candidates) & set(extra))
    if clashes:
        raise ValueError(
            f"{clashes} appear in both `candidates` and `extra_candidates`: give the extra "
            "candidates other names (or override `candidates` itself in the environment)."
        )
    merged = {**candidates, **extra}
    if not merged:
        raise ValueError("No candidate models configured: add some under `candidates`.")
    # A name becomes a Kedro namespace and a parameter path (params:candidates.<name>).
    invalid = [name for name in merged if not str(name).isidentifier()]
    if invalid:
        raise ValueError(
            f"Candidate names {invalid} are not identifiers: use letters, digits and "
            "underscores, such as logistic_regression."
        )
    return merged


def candidate_input(candidate: dict[str, Any]) -> str:
    """``features`` (default: vectorizer -> sampler -> classifier), ``text`` (the classifier
    reads the cleaned text; vectorizer and sampler are ``"passthrough"``) or ``raw_text`` (as
    ``text``, but the text as written: a pretrained tokenizer knows "@", "!" and emojis, which
    the cleaner would turn into words it has never seen)."""
    value = candidate.get("input", "features")
    if value not in CANDIDATE_INPUTS:
        raise ValueError(
            f"input: {value!r} is not one of {list(CANDIDATE_INPUTS)}; use `input: text` for a "
            "classifier that reads text (the networks of sentiment_mlops.networks), `input: "
            "raw_text` for one that reads it uncleaned (a pretrained model), or leave it out."
        )
    return value


def candidate_param_grid(
    candidate: dict[str, Any],
    feature_grid: dict[str, list[Any]],
    random_state: int | None = None,
) -> dict[str, list[Any]]:
    """The feature grid shared by all candidates, overridden by the candidate's own ``grid``.

    A candidate that reads text has no vectorizer or sampler to tune: it gets its own grid
    only, and a grid entry for either step is an error. ``random_state`` seeds the samplers
    of a ``sampler`` entry.
    """
    reads_text = candidate_input(candidate) in TEXT_INPUTS
    own = candidate.get("grid") or {}
    for name in own:
        step = name.split("__")[0]
        if reads_text and step in FEATURE_STEPS:
            raise ValueError(
                f"Grid entry {name!r} tunes the {step}, but this candidate reads text "
                "(`input: text`): its vectorizer and sampler are 'passthrough'. Remove the "
                "entry, or drop `input: text` if the classifier takes a feature matrix."
            )
    shared = {} if reads_text else dict(feature_grid)
    return {**shared, **parse_grid(own, where="grid", random_state=random_state)}


def candidate_search_options(candidate: dict[str, Any], search: dict[str, Any]) -> dict[str, Any]:
    """The shared ``search`` options with the candidate's own ``search`` block over them.

    ``cv_folds: 0`` means no cross-validation: the single grid point is fitted once.
    """
    own = candidate.get("search") or {}
    unknown = sorted(set(own) - set(search))
    if unknown:
        raise ValueError(
            f"Unknown search option(s) {unknown}: a candidate's `search` block may set "
            f"{sorted(search)}."
        )
    options = {**search, **own}
    backend = options.get("backend", "local")
    if backend not in SEARCH_BACKENDS:
        raise ValueError(
            f"search backend {backend!r} is not one of {list(SEARCH_BACKENDS)}: `local` runs "
            "the fits in this machine's processes, `dask` on a Dask cluster."
        )
    folds = options["cv_folds"]
    if isinstance(folds, bool) or not isinstance(folds, int) or folds < 0 or folds == 1:
        raise ValueError(
            f"cv_folds: {folds!r} must be 0 (no cross-validation: one grid point, fitted once) "
            "or a number of folds >= 2."
        )
    return options


def _reads_text(estimator: BaseEstimator) -> bool:
    """Whether the estimator's sklearn tags say it takes texts, not a 2-D feature matrix."""
    tags = get_tags(estimator).input_tags
    return tags.string and not tags.two_d_array


def candidate_pipeline(candidate: dict[str, Any], feature_pipeline: ImbPipeline) -> ImbPipeline:
    """The unfitted ``(vectorizer, sampler, classifier)`` pipeline of one candidate."""
    classifier = build_estimator(candidate)
    reads_text = candidate_input(candidate) in TEXT_INPUTS
    if _reads_text(classifier) and not reads_text:
        raise ValueError(
            f"{type(classifier).__name__} reads texts, not a feature matrix: add `input: text` "
            "to the candidate (its vectorizer and sampler then become 'passthrough')."
        )
    if reads_text and not _reads_text(classifier):
        raise ValueError(
            f"`input: text`, but {type(classifier).__name__} takes a feature matrix (its sklearn "
            "tags do not declare text input): remove `input: text` so that the vectorizer runs."
        )
    blocks = candidate.get("feature_blocks") or {}
    if reads_text:
        if blocks:
            raise ValueError(
                "feature_blocks extend the vectorizer, but this candidate reads text (`input: "
                f"{candidate_input(candidate)}`) and has none: remove one or the other."
            )
        steps = [(step, "passthrough") for step in FEATURE_STEPS]
    else:
        steps = clone(feature_pipeline).steps
        if blocks:
            steps = [
                (name, with_feature_blocks(step, blocks) if name == "vectorizer" else step)
                for name, step in steps
            ]
    return ImbPipeline([*steps, ("classifier", classifier)])


def with_feature_blocks(vectorizer: Any, blocks: dict[str, Any]) -> FeatureUnion:
    """The shared vectorizer's branches followed by ``blocks`` (name -> transformer spec, such as
    a :class:`~sentiment_mlops.networks.SentenceEncoder`), side by side.

    A vectorizer of one kind (``vectorizer.kind: tfidf``, ...) becomes the branch
    ``SINGLE_VECTORIZER_BRANCH`` of the union.
    """
    if not isinstance(vectorizer, FeatureUnion):
        vectorizer = FeatureUnion([(SINGLE_VECTORIZER_BRANCH, vectorizer)])
    clashes = sorted(set(blocks) & {name for name, _ in vectorizer.transformer_list})
    if clashes:
        raise ValueError(
            f"feature_blocks {clashes} are already branches of the vectorizer: name them otherwise."
        )
    added = [(name, build_estimator(spec)) for name, spec in blocks.items()]
    return vectorizer.set_params(transformer_list=[*vectorizer.transformer_list, *added])


def shared_grid_for(
    candidate: dict[str, Any], feature_pipeline: ImbPipeline, feature_grid: dict[str, list[Any]]
) -> dict[str, list[Any]]:
    """The shared feature grid as it applies to this candidate's pipeline: where its
    ``feature_blocks`` turn a single vectorizer into a union, ``vectorizer__<option>`` entries
    tune that vectorizer's branch (``vectorizer__ngrams__<option>``)."""
    vectorizer = feature_pipeline.named_steps["vectorizer"]
    if not candidate.get("feature_blocks") or isinstance(vectorizer, FeatureUnion):
        return feature_grid
    prefix = "vectorizer__"
    return {
        (
            f"{prefix}{SINGLE_VECTORIZER_BRANCH}__{key.removeprefix(prefix)}"
            if key.startswith(prefix)
            else key
        ): values
        for key, values in feature_grid.items()
    }


@dataclass(frozen=True)
class CandidatePlan:
    """One candidate, checked and built before anything is fitted."""

    name: str
    estimator: str  # the classifier's import path, as configured
    input: str  # what the classifier reads: features, text (cleaned) or raw_text
    pipeline: ImbPipeline  # unfitted (vectorizer, sampler, classifier)
    grid: dict[str, list[Any]]
    search: dict[str, Any]  # the shared search options with the candidate's own over them


def plan_candidate(  # noqa: PLR0913 - one candidate and the shared settings it builds on
    candidate: dict[str, Any],
    feature_pipeline: ImbPipeline,
    feature_grid: dict[str, list[Any]],
    search: dict[str, Any],
    *,
    name: str,
    random_state: int | None = None,
) -> CandidatePlan:
    """Build and check one candidate's pipeline, grid and search options.

    Every error names the candidate. ``random_state`` seeds the samplers of the
    candidate's own ``sampler`` grid entry.
    """
    try:
        if "estimator" not in candidate:
            raise ValueError(
                "no `estimator`: give the import path of a scikit-learn-style classifier, "
                "such as sklearn.linear_model.LogisticRegression."
            )
        plan = CandidatePlan(
            name=name,
            estimator=candidate["estimator"],
            input=candidate_input(candidate),
            pipeline=candidate_pipeline(candidate, feature_pipeline),
            grid=candidate_param_grid(
                candidate,
                shared_grid_for(candidate, feature_pipeline, feature_grid),
                random_state,
            ),
            search=candidate_search_options(candidate, search),
        )
        points = len(ParameterGrid(plan.grid))
        if plan.search["cv_folds"] == 0 and points != 1:
            raise ValueError(
                f"cv_folds: 0 fits one grid point without cross-validation, but the grid has "
                f"{points}: give one value per grid entry, or cv_folds >= 2 to search them."
            )
    except ValueError as error:
        raise ValueError(f"Candidate {name!r}: {error}") from error
    return plan


def plan_candidates(
    candidates: dict[str, dict[str, Any]],
    feature_pipeline: ImbPipeline,
    feature_grid: dict[str, list[Any]],
    search: dict[str, Any],
    *,
    random_state: int | None = None,
) -> dict[str, CandidatePlan]:
    """Every candidate's plan, so that a configuration error stops the run before any fit."""
    return {
        name: plan_candidate(
            candidate, feature_pipeline, feature_grid, search, name=name, random_state=random_state
        )
        for name, candidate in candidates.items()
    }
