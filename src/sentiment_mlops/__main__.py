"""The ``sentiment-mlops`` command (also ``python -m sentiment_mlops``).

sentiment-mlops [run options]       the project's ``kedro run``, as in any packaged Kedro project
sentiment-mlops run [run options]   the same
sentiment-mlops upload-raw --source airline --env aws
                                    copy a source's raw files to the environment's bucket
sentiment-mlops promote --version 3 [--force]
                                    move the champion alias by hand (a rollback); a service
                                    that follows the alias loads that version by itself
sentiment-mlops serve [--host 127.0.0.1] [--port 8000] [--workers 1]
                                    the API, with its connection limits (SENTIMENT_* settings)
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import click
from botocore.exceptions import BotoCoreError, ClientError
from kedro.framework.cli.utils import find_run_command
from kedro.framework.project import configure_project, settings
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project
from kedro.io import AbstractDataset, DatasetError
from omegaconf.errors import OmegaConfBaseException

from sentiment_mlops.datasets.raw_files import RawDataError, upload_raw_files
from sentiment_mlops.datasets.sentiment_source_dataset import SentimentSourceDataset
from sentiment_mlops.mlflow_registry import (
    CHAMPION_ALIAS,
    REGISTERED_MODEL_NAME,
    PromotionLockTimeoutError,
    promote_version,
)

PACKAGE_NAME = Path(__file__).parent.name
LOCAL_RAW_DIR = "data/01_raw"
# What bad input to upload-raw raises: an unknown source or environment, a missing setting,
# missing or refused credentials, a raw file that is nowhere or corrupt.
_INPUT_ERRORS = (
    DatasetError,
    RawDataError,
    OmegaConfBaseException,
    BotoCoreError,
    ClientError,
    PermissionError,
    ValueError,
)


class BadInput(click.ClickException):
    """Printed as ``Error: <message>`` with exit status 2, without a traceback."""

    exit_code = 2


class _RunByDefault(click.Group):
    """Arguments that do not start with a command name go to ``run``, as before subcommands."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            args = ["run", *args]
        return super().parse_args(ctx, args)


def source_dataset(project_path: Path, env: str, source: str | None) -> SentimentSourceDataset:
    """The ``raw_texts`` dataset of ``source`` (default: the project's) in environment ``env``."""
    bootstrap_project(project_path)
    # The config loader alone: no session, so no MLflow set-up is needed just to copy files.
    config_loader = settings.CONFIG_LOADER_CLASS(
        conf_source=str(project_path / settings.CONF_SOURCE),
        env=env,
        runtime_params={"source": source} if source else {},
        **settings.CONFIG_LOADER_ARGS,
    )
    return AbstractDataset.from_config("raw_texts", config_loader["catalog"]["raw_texts"])


@click.command("upload-raw")
@click.option(
    "--source", help="A block of _sources in conf/base/catalog.yml [default: the project's]."
)
@click.option(
    "--env", default="aws", show_default=True, help="The environment whose raw data to fill."
)
@click.option(
    "--project-path",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=Path.cwd,
    help="The project root [default: the working directory].",
)
def upload_raw(source: str | None, env: str, project_path: Path) -> None:
    """Copy a source's raw files, each checked against its sha256, to <data_root>/01_raw of ENV.

    Each file is found the usual way (data/01_raw, then $SENTIMENT_DATA_MIRROR, then its pinned
    URL) and copied only if the destination does not already hold a file of the same size.
    """
    project_path = project_path.resolve()
    try:
        dataset = source_dataset(project_path, env, source)
        done = upload_raw_files(
            dataset.spec.all_files, dataset.raw_dir, project_path / LOCAL_RAW_DIR
        )
    except _INPUT_ERRORS as error:
        message = " ".join(str(error).split())
        if isinstance(error, BotoCoreError | ClientError | PermissionError):
            message = message.rstrip(".") + (
                ". Check the credentials and AWS_ENDPOINT_URL in the environment"
                " (conf/aws/s3.env.example lists them) and the bucket."
            )
        raise BadInput(message) from error
    for url, uploaded in done:
        click.echo(f"{'uploaded' if uploaded else 'already there'}: {url}")


@click.command("promote")
@click.option(
    "--version",
    "version",
    required=True,
    type=click.IntRange(min=1),
    help="The registered version that takes the alias.",
)
@click.option(
    "--force",
    is_flag=True,
    help="Move the alias even if the version scored lower than the champion, or on other data.",
)
@click.option("--alias", default=CHAMPION_ALIAS, show_default=True, help="The alias to move.")
@click.option("--model-name", default=REGISTERED_MODEL_NAME, show_default=True)
@click.option(
    "--env",
    default=None,
    help="The Kedro environment whose mlflow.yml names the registry [default: local].",
)
@click.option(
    "--project-path",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=Path.cwd,
    help="The project root [default: the working directory].",
)
def promote(  # noqa: PLR0913, PLR0917 - one parameter per option
    version: int, force: bool, alias: str, model_name: str, env: str | None, project_path: Path
) -> None:
    """Move ALIAS to VERSION of the registered model: a rollback, or a version trained elsewhere.

    The rule of a training run applies (the version must score at least the champion's test
    macro-F1 on the same test split) unless --force. The registry is the one `kedro run` uses
    (MLFLOW_TRACKING_URI, else the environment's mlflow.yml).
    """
    bootstrap_project(project_path.resolve())
    # The session's kedro-mlflow hook points MLflow at the project's store, as in `kedro run`.
    with KedroSession.create(project_path.resolve(), env=env) as session:
        session.load_context()
        try:
            decision = promote_version(model_name, version, force=force, alias=alias)
        except ValueError as error:
            raise BadInput(str(error)) from error
        except PromotionLockTimeoutError as error:
            raise click.ClickException(str(error)) from error
    if decision.promoted:
        click.echo(f"{model_name} version {version} is now '{alias}': {decision.reason}")
    elif decision.champion_version == decision.version:
        click.echo(f"Nothing to do: {decision.reason}")
    else:
        raise click.ClickException(
            f"'{alias}' stays on version {decision.champion_version}: {decision.reason}. "
            "Add --force to move it anyway."
        )


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option(
    "--port", default=8000, show_default=True, type=click.IntRange(1, 65535), help="Port."
)
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Worker processes, each with its own copy of the model; /metrics adds them up.",
)
def serve(host: str, port: int, workers: int) -> None:
    """Serve the API with uvicorn and the service's bounds on connections.

    Besides the app's own limits, this bounds what uvicorn alone does not: the request line
    and headers (size, count, time to arrive), idle keep-alive connections and open
    connections. Every limit is a SENTIMENT_* setting (see docs/api.md).
    """
    import uvicorn  # noqa: PLC0415 - only this command needs the server
    from pydantic import ValidationError  # noqa: PLC0415

    from sentiment_mlops.api.metrics import MULTIPROCESS_DIR_VARIABLE  # noqa: PLC0415
    from sentiment_mlops.api.protocol import BoundedHttpToolsProtocol  # noqa: PLC0415
    from sentiment_mlops.api.settings import Settings  # noqa: PLC0415

    try:
        service_settings = Settings()
    except ValidationError as error:
        raise BadInput(f"Invalid SENTIMENT_* setting: {error}") from error
    if workers > 1:
        # The workers, started after this, write their metrics there (a fresh directory:
        # values of an earlier run must not be added in).
        metrics_dir = tempfile.mkdtemp(prefix="sentiment-metrics-")
        os.environ[MULTIPROCESS_DIR_VARIABLE] = metrics_dir
    try:
        uvicorn.run(
            "sentiment_mlops.api.app:app",
            host=host,
            port=port,
            workers=workers,
            http=BoundedHttpToolsProtocol,
            timeout_keep_alive=service_settings.keep_alive_s,
            limit_concurrency=service_settings.max_connections,
        )
    finally:
        if workers > 1:
            shutil.rmtree(metrics_dir, ignore_errors=True)


def main(*args: Any, **kwargs: Any) -> Any:
    """Entry point of ``sentiment-mlops`` and ``python -m sentiment_mlops``."""
    configure_project(PACKAGE_NAME)
    cli = _RunByDefault(
        name="sentiment-mlops",
        help="The project's commands; arguments without one go to `run`.",
        commands={
            "run": find_run_command(PACKAGE_NAME),
            "upload-raw": upload_raw,
            "promote": promote,
            "serve": serve,
        },
    )
    kwargs["standalone_mode"] = not hasattr(sys, "ps1")
    return cli(*args, **kwargs)


if __name__ == "__main__":
    main()
