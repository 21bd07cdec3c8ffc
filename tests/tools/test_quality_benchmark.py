"""benchmarks/quality.py with ``--pretrained``: conf/pretrained's candidates and vote join
another environment's, and the results table checks the pretrained targets."""

from __future__ import annotations

import importlib.util

import pytest

from tests.support.projects import PROJECT_ROOT

pytestmark = pytest.mark.unit

SCRIPT = PROJECT_ROOT / "benchmarks" / "quality.py"


def _quality():
    """benchmarks/quality.py as a module (benchmarks/ is not a package)."""
    spec = importlib.util.spec_from_file_location("quality", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_pretrained_candidates_swap_the_votes_linear_member_and_set_the_fine_tuning():
    finetune = {"max_epochs": 2, "max_train_texts": 8000, "max_length": 256}
    added = _quality().pretrained_candidates("logistic_regression", finetune)
    candidates = added["extra_candidates"]
    assert {"minilm_logreg", "minilm_ngrams_svm", "minilm_finetune"} <= set(candidates)
    assert finetune.items() <= candidates["minilm_finetune"]["params"].items()
    assert "max_train_texts" not in candidates["minilm_logreg"].get("params", {})
    # The pretrained member stays; the one this environment lacks becomes the given model.
    assert added["votes"]["minilm_linear_vote"]["members"] == [
        "minilm_finetune",
        "logistic_regression",
    ]


def test_without_overrides_conf_pretrained_is_taken_as_written():
    added = _quality().pretrained_candidates(None)
    assert added["extra_candidates"]["minilm_finetune"]["params"]["max_epochs"] == 3
    assert added["votes"]["minilm_linear_vote"]["members"] == ["minilm_finetune", "svm_nbsvm_vote"]


def _result(val_recall: float, pretrained: bool) -> dict:
    row = {
        "model": "minilm_linear_vote",
        "rank": 1,
        "estimator": "sklearn.ensemble.VotingClassifier",
        "val_accuracy": 0.7,
        "val_macro_f1": 0.7,
        "val_macro_recall": val_recall,
        "fit_time_s": 1.0,
    }
    return {
        "comparison": [row],
        "test_metrics": {"accuracy": 0.7, "macro_f1": 0.7, "macro_recall": 0.7},
        "command": "python benchmarks/quality.py --sources semeval"
        + (" --pretrained" if pretrained else ""),
        "env": "bench_semeval",
        "commit": "abc",
        "finished_at": "now",
        "wall_time_s": 1.0,
    }


@pytest.mark.parametrize(("recall", "verdict"), [(0.77, "met"), (0.75, "NOT met")])
def test_the_table_checks_the_pretrained_target_of_a_pretrained_run(recall, verdict):
    table = _quality().markdown({"semeval": _result(recall, pretrained=True)})
    line = next(line for line in table.splitlines() if "with a pretrained encoder" in line)
    assert f"**{verdict} (validation: macro_recall {recall:.4f})**" in line


def test_a_run_without_pretrained_candidates_has_no_pretrained_target():
    table = _quality().markdown({"semeval": _result(0.77, pretrained=False)})
    assert "pretrained encoder" not in table


def _run_parameters(env: str, runtime_params: dict) -> dict:
    """The parameters a Kedro session of ``env`` with ``runtime_params`` builds pipelines for."""
    from kedro.config import OmegaConfigLoader  # noqa: PLC0415

    from sentiment_mlops.settings import CONFIG_LOADER_ARGS  # noqa: PLC0415

    return OmegaConfigLoader(
        conf_source=str(PROJECT_ROOT / "conf"),
        env=env,
        runtime_params=runtime_params,
        **CONFIG_LOADER_ARGS,
    )["parameters"]


@pytest.mark.parametrize("env", ["bench_imdb", "local"])
def test_candidates_leaves_every_other_candidate_and_vote_out(env):
    from sentiment_mlops.pipeline_registry import (  # noqa: PLC0415
        configured_candidates,
        configured_votes,
    )

    quality = _quality()
    pretrained = quality.pretrained_candidates("nbsvm")
    runtime_params = {"source": "imdb", **pretrained}
    kept = ["nbsvm", "minilm_finetune", "minilm_linear_vote"]
    parameters = _run_parameters(env, quality.keep_only(runtime_params, env, kept))
    assert list(configured_candidates(parameters)) == ["nbsvm", "minilm_finetune"]
    assert configured_votes(parameters) == {"minilm_linear_vote": ["minilm_finetune", "nbsvm"]}
    # The kept candidates are configured as the environment has them.
    full = _run_parameters(env, runtime_params)
    assert parameters["candidates"]["nbsvm"] == full["candidates"]["nbsvm"]


def test_candidates_refuses_a_name_the_run_lacks_and_a_vote_without_its_members():
    quality = _quality()
    runtime_params = {"source": "imdb", **quality.pretrained_candidates("nbsvm")}
    with pytest.raises(SystemExit, match=r"\['xgboost'\]: not in this run; its candidates"):
        quality.keep_only(runtime_params, "bench_imdb", ["nbsvm", "xgboost"])
    with pytest.raises(SystemExit, match=r"'minilm_linear_vote' mixes \['nbsvm'\] too"):
        quality.keep_only(runtime_params, "bench_imdb", ["minilm_finetune", "minilm_linear_vote"])
