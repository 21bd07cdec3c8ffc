"""Model quality benchmark: run the configured model search per source and tabulate it.

For each source (default: airline, semeval, imdb) this runs the project's default pipeline
(``data_processing -> feature_engineering -> training -> calibration -> evaluation``, then
the model is logged and registered) exactly as ``kedro run --params source=<name>`` does, so
its wall time is that of ``kedro run``; then it reads the comparison table (validation split) and the
selected model's test metrics, and writes them beside the reference points and targets
to ``benchmarks/results/quality.md`` and ``quality.json``. Results of sources not
run this time are kept, each with the command and git commit that produced it.

It is a script, not a test: it takes minutes per source. Models are registered in a
throw-away MLflow store unless ``MLFLOW_TRACKING_URI`` is set.

The PyTorch networks join the comparison with ``--env deep`` (conf/deep: the
default candidates plus the networks) or, for an environment of their own, ``--networks``
(conf/deep's ``extra_candidates`` passed as runtime parameters, so they join any
environment's candidates). Their rows then sit in the same table, beside the networks' targets.

    python benchmarks/quality.py                       # all three sources
    python benchmarks/quality.py --sources semeval     # one source
    python benchmarks/quality.py --sources imdb --env bench_imdb   # another parameter set
    python benchmarks/quality.py --sources airline --env deep      # + BiLSTM, Transformer
    python benchmarks/quality.py --sources imdb --env bench_imdb --networks
    python benchmarks/quality.py --sources semeval --env bench_semeval \
        --pretrained --vote-member logistic_regression --finetune-epochs 2
    python benchmarks/quality.py --sources imdb --env bench_imdb --pretrained \
        --vote-member nbsvm --finetune-max-texts 8000 --finetune-max-length 256
    python benchmarks/quality.py --sources imdb --env bench_imdb --pretrained \
        --vote-member nbsvm --candidates nbsvm minilm_finetune minilm_linear_vote

``--pretrained`` does the same with conf/pretrained's candidates and its vote (the vote's
linear member becomes ``--vote-member``, the environment's best linear model, where the
environment has no ``svm_nbsvm_vote``). ``--candidates`` compares only the candidates and votes
it names (a vote needs its members): a run of the fine-tuned encoder and its vote on imdb then
skips an hour of other fits. The fine-tuned encoder saves its progress to
``data/06_models/checkpoints`` (conf/pretrained's ``checkpoint_dir``): the same command, run again
after the run was stopped, resumes the fine-tuning where it was (the other fits start over).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from sentiment_mlops.networks import MODULE_PREFIX as NETWORK_MODULE_PREFIX

PROJECT_ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = PROJECT_ROOT / "benchmarks" / "results"

# Reference points measured on the same splits, and the targets.
REFERENCES = {
    "airline": {
        "reference": "TF-IDF+LR macro-F1 .714; LR balanced .743; LR+SMOTE .745; "
        "word+char n-gram LR .756 / acc .822",
        "target": "test macro-F1 >= 0.77 and accuracy >= 0.83",
        "checks": {"split": "test", "macro_f1": 0.77, "accuracy": 0.83},
        "network_target": "the better network: macro-F1 >= 0.74",
        "network_checks": {"macro_f1": 0.74},
        "pretrained_target": "with a pretrained encoder: test accuracy >= 0.85 and macro-F1 >= 0.80",
        "pretrained_checks": {"split": "test", "accuracy": 0.85, "macro_f1": 0.80},
    },
    "semeval": {
        "reference": "balanced TF-IDF LR macro-recall ~.61 (SemEval-2017 test); "
        "TweetEval SVM 62.9; 2017 winners 68.1",
        "target": "macro-recall >= 0.65 on the TweetEval validation split",
        "checks": {"split": "validation", "macro_recall": 0.65},
        "network_target": "the better network: macro-recall >= 0.60",
        "network_checks": {"macro_recall": 0.60},
        "pretrained_target": "with a pretrained encoder: macro-recall >= 0.76 on the TweetEval validation split",
        "pretrained_checks": {"split": "validation", "macro_recall": 0.76},
    },
    "imdb": {
        "reference": "TF-IDF+LR acc .908; LR C=10 .920; LinearSVC .922; NB-SVM .922; "
        "published NBSVM-bigram 91.22",
        "target": "accuracy >= 0.92 on the held-out 20% (test split)",
        "checks": {"split": "test", "accuracy": 0.92},
        "network_target": "the better network: accuracy >= 0.91",
        "network_checks": {"accuracy": 0.91},
        "pretrained_target": "with a pretrained encoder: test accuracy >= 0.925",
        "pretrained_checks": {"split": "test", "accuracy": 0.925},
    },
}


def git_commit() -> str:
    """The checked-out commit, with ``-dirty`` when the working tree has changes."""
    commit = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    return commit + ("-dirty" if dirty else "")


def network_candidates(source: str) -> dict:
    """conf/deep's networks (``extra_candidates``), with ``source``'s settings over them."""
    from kedro.config import OmegaConfigLoader  # noqa: PLC0415 - after env setup

    from sentiment_mlops.settings import CONFIG_LOADER_ARGS  # noqa: PLC0415

    loader = OmegaConfigLoader(
        conf_source=str(PROJECT_ROOT / "conf"), env="deep", **CONFIG_LOADER_ARGS
    )
    # conf/deep's settings are for tweets; longer texts get the token budget deep.py measured.
    from deep import MAX_LENGTH  # noqa: PLC0415 - needs torch, like the networks themselves

    networks = loader["parameters"]["extra_candidates"]
    for spec in networks.values():
        if source in MAX_LENGTH:
            spec["params"] = {**spec.get("params", {}), "max_length": MAX_LENGTH[source]}
    return networks


def pretrained_candidates(vote_member: str | None, finetune: dict | None = None) -> dict:
    """conf/pretrained's ``extra_candidates`` and ``votes``, as runtime parameters.

    ``vote_member`` replaces each vote's member that is not one of the pretrained candidates;
    ``finetune`` overrides the fine-tuned encoder's parameters (``max_epochs``,
    ``max_train_texts``, ``max_length``: each epoch costs minutes to hours on 2 cores).
    """
    from kedro.config import OmegaConfigLoader  # noqa: PLC0415 - after env setup

    from sentiment_mlops.settings import CONFIG_LOADER_ARGS  # noqa: PLC0415

    loader = OmegaConfigLoader(
        conf_source=str(PROJECT_ROOT / "conf"), env="pretrained", **CONFIG_LOADER_ARGS
    )
    parameters = loader["parameters"]
    candidates, votes = parameters["extra_candidates"], parameters["votes"]
    for spec in candidates.values():
        if spec["estimator"].endswith("TransformerFineTuneClassifier"):
            spec["params"].update(finetune or {})
    if vote_member is not None:
        for vote in votes.values():
            vote["members"] = [m if m in candidates else vote_member for m in vote["members"]]
    return {"extra_candidates": candidates, "votes": votes}


def keep_only(runtime_params: dict, env: str | None, names: Sequence[str]) -> dict:
    """``runtime_params`` that also leave every candidate and vote of the run out but ``names``
    (set to null, the training pipeline skips them); a clear error for a name the run does not
    have or a vote without its members.

    Each section (``candidates``, ``extra_candidates``, ``votes``) is passed whole: where an
    environment sets one, Kedro replaces base's with it rather than merging the two.
    """
    from kedro.config import OmegaConfigLoader  # noqa: PLC0415 - after env setup

    from sentiment_mlops.settings import CONFIG_LOADER_ARGS  # noqa: PLC0415

    loader = OmegaConfigLoader(
        conf_source=str(PROJECT_ROOT / "conf"),
        env=env or "local",
        runtime_params=runtime_params,
        **CONFIG_LOADER_ARGS,
    )
    parameters = loader["parameters"]
    sections = {
        key: {name: spec for name, spec in (parameters.get(key) or {}).items() if spec is not None}
        for key in ("candidates", "extra_candidates", "votes")
    }
    known = [name for section in sections.values() for name in section]
    unknown = [name for name in names if name not in known]
    if unknown:
        raise SystemExit(
            f"--candidates {unknown}: not in this run; its candidates and votes: {known}"
        )
    for vote, spec in sections["votes"].items():
        missing = [member for member in spec.get("members", []) if member not in names]
        if vote in names and missing:
            raise SystemExit(
                f"--candidates: the vote {vote!r} mixes {missing} too; name them as well."
            )
    return {
        **runtime_params,
        **{
            key: {name: spec if name in names else None for name, spec in section.items()}
            for key, section in sections.items()
        },
    }


def run_source(
    source: str,
    env: str | None,
    *,
    networks: bool = False,
    pretrained: dict | None = None,
    only: Sequence[str] | None = None,
) -> dict:
    """Run ``kedro run`` on ``source``; return its comparison, test metrics and wall time.

    ``networks`` adds conf/deep's networks to ``env``'s candidates. As runtime parameters
    they reach the environment's own parameters too, which then replace conf/base's
    ``extra_candidates: {}`` whole (Kedro's destructive merge of environments).
    ``pretrained`` (from :func:`pretrained_candidates`) adds conf/pretrained's the same way.
    ``only`` leaves every other candidate and vote out (:func:`keep_only`).
    """
    from kedro.framework.session import KedroSession  # noqa: PLC0415 - after env setup
    from kedro.framework.startup import bootstrap_project  # noqa: PLC0415

    bootstrap_project(PROJECT_ROOT)
    runtime_params: dict = {"source": source}
    if networks:
        runtime_params["extra_candidates"] = network_candidates(source)
    if pretrained:
        runtime_params["extra_candidates"] = {
            **runtime_params.get("extra_candidates", {}),
            **pretrained["extra_candidates"],
        }
        runtime_params["votes"] = pretrained["votes"]
    if only:
        runtime_params = keep_only(runtime_params, env, only)
    started = time.perf_counter()
    with KedroSession.create(
        project_path=PROJECT_ROOT, env=env, runtime_params=runtime_params
    ) as session:
        session.run()  # the __default__ pipeline, as `kedro run`
        catalog = session.load_context().catalog
        comparison = catalog.load("model_comparison")
        metrics = catalog.load("metrics")
    return {
        "wall_time_s": round(time.perf_counter() - started, 1),
        "comparison": comparison.to_dict(orient="records"),
        "test_metrics": metrics,
    }


def _class_f1_columns(comparison: pd.DataFrame) -> list[str]:
    return [
        column
        for column in comparison.columns
        if column.startswith("val_") and column.endswith("_f1") and column != "val_macro_f1"
    ]


def _target_met(source: str, result: dict, kind: str = "checks") -> str:
    checks = dict(REFERENCES[source][kind])
    split = checks.pop("split")
    if split == "test":
        scores = result["test_metrics"]
    else:
        best = pd.DataFrame(result["comparison"]).sort_values("rank").iloc[0]
        scores = {name: best[f"val_{name}"] for name in checks}
    met = all(scores[name] >= threshold for name, threshold in checks.items())
    measured = ", ".join(f"{name} {scores[name]:.4f}" for name in checks)
    return f"{'met' if met else 'NOT met'} ({split}: {measured})"


def _network_line(source: str, comparison: pd.DataFrame) -> list[str]:
    """The target for the best network, on the validation split; none without networks."""
    networks = comparison[comparison["estimator"].str.startswith(NETWORK_MODULE_PREFIX)]
    if networks.empty:
        return []
    checks = REFERENCES[source]["network_checks"]
    metric = next(iter(checks))
    best = networks.sort_values(f"val_{metric}", ascending=False).iloc[0]
    met = all(best[f"val_{name}"] >= threshold for name, threshold in checks.items())
    measured = ", ".join(f"{name} {best[f'val_{name}']:.4f}" for name in checks)
    return [
        f"Networks: {REFERENCES[source]['network_target']}: "
        f"**{'met' if met else 'NOT met'}** ({best['model']}, validation split: {measured}; "
        "only the selected model is scored on the test split).",
        "",
    ]


def _with_pretrained_candidates(result: dict) -> bool:
    """Whether the run compared conf/pretrained's candidates (its environment or --pretrained)."""
    return result.get("env") == "pretrained" or "--pretrained" in shlex.split(result["command"])


def markdown(results: dict) -> str:
    """One section per source: the per-model table, the selected model's test row, targets."""
    lines = ["# Model quality benchmark", ""]
    for source, result in results.items():
        comparison = pd.DataFrame(result["comparison"]).sort_values("rank")
        class_f1 = _class_f1_columns(comparison)
        columns = ["val_accuracy", "val_macro_f1", "val_macro_recall", *class_f1, "fit_time_s"]
        header = ["model", *[c.removeprefix("val_") for c in columns]]
        lines += [
            f"## {source}",
            "",
            # A named section, so a docs page can include one source (pymdownx.snippets).
            f"<!-- --8<-- [start:{source}] -->",
            f"Command: `{result['command']}` at commit `{result['commit']}` "
            f"({result['finished_at']}); wall time of the whole run {result['wall_time_s']} s.",
            "",
            "Validation split, every candidate with its best parameters (fit time = refit on "
            "the training split):",
            "",
            "| " + " | ".join(header) + " |",
            "|---|" + "---:|" * len(columns),
        ]
        for _, row in comparison.iterrows():
            cells = [f"{row[c]:.1f}" if c == "fit_time_s" else f"{row[c]:.4f}" for c in columns]
            lines.append(f"| {row['model']} | " + " | ".join(cells) + " |")
        test = result["test_metrics"]
        classes = [c.removeprefix("val_").removesuffix("_f1") for c in class_f1]
        test_cells = [
            f"{test['accuracy']:.4f}",
            f"{test['macro_f1']:.4f}",
            f"{test['macro_recall']:.4f}",
            *[f"{test[f'{name}_f1']:.4f}" for name in classes],
            "",
        ]
        lines += [
            f"| **test: {comparison.iloc[0]['model']}** | " + " | ".join(test_cells) + " |",
            "",
            f"Reference: {REFERENCES[source]['reference']}.",
            f"Target: {REFERENCES[source]['target']}: **{_target_met(source, result)}**.",
            "",
            *(
                [
                    f"Target {REFERENCES[source]['pretrained_target']}: "
                    f"**{_target_met(source, result, 'pretrained_checks')}**.",
                    "",
                ]
                if _with_pretrained_candidates(result)
                else []
            ),
            *_network_line(source, comparison),
            f"<!-- --8<-- [end:{source}] -->",
            "",
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run every source, print and write the tables."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sources", nargs="+", default=list(REFERENCES), choices=list(REFERENCES))
    parser.add_argument("--env", default=None, help="Kedro environment (default: local)")
    parser.add_argument(
        "--networks",
        action="store_true",
        help="add conf/deep's networks (BiLSTM, Transformer) to the environment's candidates",
    )
    parser.add_argument(
        "--pretrained",
        action="store_true",
        help="add conf/pretrained's candidates and vote (all-MiniLM-L6-v2) to the environment's",
    )
    parser.add_argument(
        "--vote-member",
        default=None,
        help="with --pretrained: the linear candidate the vote mixes in (default: conf's)",
    )
    parser.add_argument(
        "--finetune-epochs",
        type=int,
        default=None,
        help="with --pretrained: at most this many fine-tuning epochs (default: conf's)",
    )
    parser.add_argument(
        "--finetune-max-texts",
        type=int,
        default=None,
        help="with --pretrained: fine-tune on a stratified sample of this many training texts",
    )
    parser.add_argument(
        "--finetune-max-length",
        type=int,
        default=None,
        help="with --pretrained: tokens kept per text when fine-tuning (default: conf's, auto)",
    )
    parser.add_argument(
        "--candidates",
        nargs="+",
        default=None,
        metavar="NAME",
        help="compare only these candidates and votes of the run (default: all of them)",
    )
    parser.add_argument("--out", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)

    os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("DO_NOT_TRACK", "true")
    scratch = tempfile.TemporaryDirectory(prefix="quality-mlflow-")
    os.environ.setdefault("MLFLOW_TRACKING_URI", f"sqlite:///{scratch.name}/mlflow.db")
    os.chdir(PROJECT_ROOT)

    args.out.mkdir(parents=True, exist_ok=True)
    json_path = args.out / "quality.json"
    results = json.loads(json_path.read_text()) if json_path.is_file() else {}
    command = shlex.join(["python", "benchmarks/quality.py", *sys.argv[1:]])
    commit = git_commit()  # the code the runs import now, not what is checked out when they end
    finetune = {
        name: value
        for name, value in [
            ("max_epochs", args.finetune_epochs),
            ("max_train_texts", args.finetune_max_texts),
            ("max_length", args.finetune_max_length),
        ]
        if value is not None
    }
    pretrained = pretrained_candidates(args.vote_member, finetune) if args.pretrained else None
    for source in args.sources:
        result = run_source(
            source,
            args.env,
            networks=args.networks,
            pretrained=pretrained,
            only=args.candidates,
        )
        result.update(
            command=command,
            commit=commit,
            env=args.env or "local",
            finished_at=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        )
        results[source] = result
        json_path.write_text(json.dumps(results, indent=2, default=float) + "\n")
    ordered = {source: results[source] for source in REFERENCES if source in results}
    table = markdown(ordered)
    (args.out / "quality.md").write_text(table)
    print(table)  # noqa: T201 - the table is this script's output
    import mlflow  # noqa: PLC0415 - imported by the runs above already

    while mlflow.active_run() is not None:  # before its store is deleted
        mlflow.end_run()
    scratch.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
