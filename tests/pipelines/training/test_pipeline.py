"""The training pipeline's shape: one namespaced modular pipeline per configured candidate."""

from __future__ import annotations

import pytest
from imblearn.over_sampling import SMOTE
from kedro.config import OmegaConfigLoader

from sentiment_mlops import run_parameters as run_parameters_module
from sentiment_mlops.pipeline_registry import (
    configured_candidates,
    configured_votes,
    runs_networks,
)
from sentiment_mlops.pipelines.feature_engineering.nodes import (
    build_feature_grid,
    build_feature_pipeline,
)
from sentiment_mlops.pipelines.training import create_pipeline
from sentiment_mlops.pipelines.training.candidates import plan_candidate
from sentiment_mlops.run_parameters import run_parameters
from sentiment_mlops.settings import CONFIG_LOADER_ARGS

pytestmark = pytest.mark.unit


def _parameters(project_root, env: str) -> dict:
    loader = OmegaConfigLoader(
        conf_source=str(project_root / "conf"), env=env, **CONFIG_LOADER_ARGS
    )
    return loader["parameters"]


def test_each_candidate_of_the_environment_gets_its_own_namespace(project_root):
    test_env = configured_candidates(_parameters(project_root, "test"))
    assert test_env == {
        "logistic_regression": "candidates.logistic_regression",
        "complement_nb": "candidates.complement_nb",
        "nbsvm": "candidates.nbsvm",
    }
    deep = configured_candidates(_parameters(project_root, "deep"))
    assert list(deep)[-2:] == ["bilstm", "transformer"]
    assert deep["bilstm"] == "extra_candidates.bilstm"

    pipeline = create_pipeline(test_env)
    for name in test_env:
        assert {node.name for node in pipeline.only_nodes_with_namespaces([name]).nodes} == {
            f"{name}.check_candidate",
            f"{name}.tune_candidate",
        }
    # `kedro run --namespaces nbsvm` needs nothing but stored datasets and parameters.
    assert pipeline.only_nodes_with_namespaces(["nbsvm"]).inputs() == {
        "feature_pipeline",
        "feature_grid",
        "train_split",
        "validation_split",
        "params:candidates.nbsvm",
        "params:search",
        "params:imbalance",
        "params:cleaning",
    }
    # Ties in the ranking keep the configured order: the comparison reads rows in that order.
    compare = next(node for node in pipeline.nodes if node.name == "compare_candidates")
    assert compare.inputs == [f"{name}_comparison_row" for name in test_env]


def test_the_pretrained_environment_votes_after_its_members_are_fitted(project_root):
    parameters = _parameters(project_root, "pretrained")
    candidates = configured_candidates(parameters)
    assert list(candidates)[-3:] == ["minilm_logreg", "minilm_ngrams_svm", "minilm_finetune"]
    votes = configured_votes(parameters)
    assert votes == {"minilm_linear_vote": ["minilm_finetune", "svm_nbsvm_vote"]}
    pipeline = create_pipeline(candidates, votes)
    (blend,) = pipeline.only_nodes_with_namespaces(["minilm_linear_vote"]).nodes
    assert blend.name == "minilm_linear_vote.blend_candidates"
    assert blend.inputs == [
        "params:votes.minilm_linear_vote",
        "validation_split",
        "minilm_finetune_candidate_model",
        "minilm_finetune_comparison_row",
        "svm_nbsvm_vote_candidate_model",
        "svm_nbsvm_vote_comparison_row",
    ]
    compare = next(node for node in pipeline.nodes if node.name == "compare_candidates")
    assert compare.inputs[-1] == "minilm_linear_vote_comparison_row"
    select = next(node for node in pipeline.nodes if node.name == "select_best_candidate")
    assert "minilm_linear_vote_candidate_model" in select.inputs
    # A vote of a candidate the run does not have stops the registration with the reason.
    broken = {**parameters, "votes": {"v": {"members": ["minilm_finetune", "bilstm"]}}}
    with pytest.raises(ValueError, match=r"members \['bilstm'\] are not candidates"):
        configured_votes(broken)


def test_candidates_and_votes_set_to_null_are_left_out(project_root):
    parameters = _parameters(project_root, "pretrained")
    full = configured_candidates(parameters)
    parameters["candidates"]["random_forest"] = None
    parameters["extra_candidates"]["minilm_logreg"] = None
    assert list(configured_candidates(parameters)) == [
        name for name in full if name not in ("random_forest", "minilm_logreg")
    ]
    assert configured_votes(parameters) == {
        "minilm_linear_vote": ["minilm_finetune", "svm_nbsvm_vote"]
    }
    parameters["votes"]["minilm_linear_vote"] = None  # its members stay candidates
    assert configured_votes(parameters) == {}
    assert "minilm_finetune" in configured_candidates(parameters)


def test_a_run_with_a_network_anywhere_packages_the_deep_requirements(project_root):
    assert not runs_networks(_parameters(project_root, "test"))
    assert runs_networks(_parameters(project_root, "deep"))
    assert runs_networks(_parameters(project_root, "pretrained"))
    # A network only as a feature block, under a scikit-learn classifier, counts too.
    block_only = {
        "candidates": {
            "svm_with_embeddings": {
                "estimator": "sklearn.svm.LinearSVC",
                "feature_blocks": {
                    "embeddings": {"estimator": "sentiment_mlops.networks.SentenceEncoder"}
                },
            }
        }
    }
    assert runs_networks(block_only)


def test_every_check_runs_before_the_first_fit(project_root):
    """A misconfigured candidate stops the run before any candidate is fitted."""
    groups = create_pipeline(configured_candidates(_parameters(project_root, "base"))).grouped_nodes
    names = [[node.name for node in group] for group in groups]
    last_check = max(
        i for i, group in enumerate(names) for n in group if n.endswith(".check_candidate")
    )
    first_fit = min(
        i for i, group in enumerate(names) for n in group if n.endswith(".tune_candidate")
    )
    assert last_check < first_fit


def test_registration_needs_candidates():
    with pytest.raises(ValueError, match="needs the candidate models' names"):
        create_pipeline({})


def test_candidate_names_must_be_identifiers():
    parameters = {"candidates": {"logistic-regression": {"estimator": "x"}}}
    with pytest.raises(ValueError, match=r"\['logistic-regression'\] are not identifiers"):
        configured_candidates(parameters)


def test_candidate_grid_reads_sampler_names_as_the_feature_grid_does(base_parameters):
    """One grid parser: `sampler: [smote]` in a candidate's grid is a seeded SMOTE step."""
    imbalance = {"strategy": "class_weights", "random_state": 7}
    feature_pipeline = build_feature_pipeline(base_parameters["vectorizer"], imbalance)
    feature_grid = build_feature_grid({}, imbalance)
    candidate = {
        "estimator": "sklearn.linear_model.LogisticRegression",
        "grid": {"sampler": ["class_weights", "smote"], "vectorizer__word__ngram_range": [[1, 1]]},
    }
    plan = plan_candidate(
        candidate,
        feature_pipeline,
        feature_grid,
        base_parameters["search"],
        name="lr",
        random_state=7,
    )
    passthrough, smote = plan.grid["sampler"]
    assert passthrough == "passthrough" and isinstance(smote, SMOTE) and smote.random_state == 7
    assert plan.grid["vectorizer__word__ngram_range"] == [(1, 1)]
    with pytest.raises(ValueError, match=r"Candidate 'lr': Unknown imbalance strategy 'smite'"):
        plan_candidate(
            {**candidate, "grid": {"sampler": ["smite"]}},
            feature_pipeline,
            feature_grid,
            base_parameters["search"],
            name="lr",
        )


@pytest.mark.parametrize("folder", [".", "notebooks"])
def test_without_a_session_the_candidates_come_from_kedro_env(project_root, monkeypatch, folder):
    """`kedro registry describe training`, direct calls and a notebook kernel (started in
    notebooks/) read what a session would: KEDRO_ENV's, from the project's conf/."""
    monkeypatch.chdir(project_root / folder)
    monkeypatch.setenv("KEDRO_ENV", "test")
    # No session: an earlier test's session may have loaded a context and never run.
    monkeypatch.setattr(run_parameters_module, "_context_parameters", None)
    assert list(configured_candidates(run_parameters())) == [
        "logistic_regression",
        "complement_nb",
        "nbsvm",
    ]
