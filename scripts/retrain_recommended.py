"""Say whether the monitoring run recommends retraining: prints ``true`` or ``false``.

Reads the boolean ``retrain_recommended`` of the drift report that ``make monitor`` writes:

- the path given, if any;
- else, where ``$KEDRO_ENV`` names an environment other than ``local`` (``aws``: the report is
  versioned under s3://$SENTIMENT_S3_BUCKET/...), the latest version of that environment's
  ``drift_metrics`` dataset, through the catalog (needs the project's venv: ``.venv/bin/python``);
- else data/08_reporting/drift_metrics.json.

Where ``$GITHUB_OUTPUT`` is set (a GitHub Actions step), also appends ``retrain=true|false`` to
that file, for a later job's ``if:``. Exits 2, saying why, when the report is missing, is not
JSON, or lacks the boolean key: a monitoring run that wrote nothing must not read as "no drift".

    python scripts/retrain_recommended.py [REPORT]
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_REPORT = Path("data/08_reporting/drift_metrics.json")
DATASET = "drift_metrics"
KEY = "retrain_recommended"
USAGE_ERROR = 2


class ReportError(Exception):
    """The drift report cannot answer the question."""


def read_report(report: Path) -> object:
    """The JSON of a local report file."""
    try:
        return json.loads(report.read_text())
    except FileNotFoundError:
        raise ReportError(f"{report} not found: run `make monitor` first") from None
    except json.JSONDecodeError as error:
        raise ReportError(f"{report} is not JSON ({error})") from None


def load_from_catalog(env: str, project_root: Path = PROJECT_ROOT) -> object:
    """The latest ``drift_metrics`` of a Kedro environment, as its catalog declares it."""
    from kedro.config import OmegaConfigLoader  # noqa: PLC0415 - only this path needs the venv
    from kedro.io import DataCatalog  # noqa: PLC0415

    from sentiment_mlops.settings import CONFIG_LOADER_ARGS  # noqa: PLC0415

    loader = OmegaConfigLoader(
        conf_source=str(project_root / "conf"), **{**CONFIG_LOADER_ARGS, "default_run_env": env}
    )
    try:
        declaration = loader["catalog"][DATASET]
        return DataCatalog.from_config({DATASET: declaration}).load(DATASET)
    except Exception as error:  # noqa: BLE001 - any failure to load means "no answer"
        raise ReportError(
            f"{DATASET} of the {env!r} environment could not be loaded ({error}): "
            "run `make monitor` first"
        ) from None


def retrain_recommended(metrics: object, where: str) -> bool:
    """The report's ``retrain_recommended``; ReportError when it has no boolean one."""
    if not isinstance(metrics, dict) or KEY not in metrics:
        raise ReportError(f"{where} has no {KEY!r} key: is it the monitoring pipeline's report?")
    value = metrics[KEY]
    if not isinstance(value, bool):
        raise ReportError(f"{where}: {KEY!r} is {value!r}, not true or false")
    return value


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) > 1:
        print(__doc__.strip().splitlines()[-1].strip(), file=sys.stderr)  # noqa: T201
        return USAGE_ERROR
    env = os.environ.get("KEDRO_ENV", "local")
    try:
        if args or env == "local":
            report = Path(args[0]) if args else DEFAULT_REPORT
            recommended = retrain_recommended(read_report(report), str(report))
        else:
            metrics = load_from_catalog(env)
            recommended = retrain_recommended(metrics, f"{DATASET} ({env})")
        answer = "true" if recommended else "false"
    except ReportError as error:
        print(f"retrain_recommended: {error}", file=sys.stderr)  # noqa: T201
        return USAGE_ERROR
    print(answer)  # noqa: T201
    output = os.environ.get("GITHUB_OUTPUT")
    if output:
        with open(output, "a", encoding="utf-8") as handle:
            handle.write(f"retrain={answer}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
