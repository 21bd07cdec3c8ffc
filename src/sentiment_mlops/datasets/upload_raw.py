"""Upload a source's raw files to the ``raw_dir`` of a Kedro environment (``s3://...`` in ``aws``).

    python -m sentiment_mlops.datasets.upload_raw --source airline [--env aws]

(``make upload-raw SOURCE=airline``). Each file is found the usual way (``data/01_raw``, then
``$SENTIMENT_DATA_MIRROR``, then its pinned URL), checked against its sha256, and copied only
if the bucket does not already hold a file of the same size. The catalog stays the one place
that says which files a source has and where raw data lives.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import fsspec
from kedro.framework.project import settings
from kedro.framework.startup import bootstrap_project

from sentiment_mlops.datasets.raw_files import RawFile, is_remote, resolve_raw_file

logger = logging.getLogger(__name__)
LOCAL_RAW_DIR = "data/01_raw"


def raw_entry(project_path: Path, env: str, source: str) -> dict:
    """The resolved ``raw_texts`` catalog entry of ``source`` in ``env``."""
    bootstrap_project(project_path)
    # The config loader alone: no session, so no MLflow set-up is needed just to upload files.
    config_loader = settings.CONFIG_LOADER_CLASS(
        conf_source=str(project_path / settings.CONF_SOURCE),
        env=env,
        runtime_params={"source": source},
        **settings.CONFIG_LOADER_ARGS,
    )
    return config_loader["catalog"]["raw_texts"]


def upload_source(entry: dict, local_raw_dir: str | Path = LOCAL_RAW_DIR) -> list[str]:
    """Copy every file of a raw catalog entry to its remote ``raw_dir``; returns the URLs written."""
    raw_dir = entry["raw_dir"]
    if not is_remote(raw_dir):
        raise ValueError(
            f"raw_dir '{raw_dir}' is local: choose an environment with an s3:// raw_dir"
        )
    written = []
    for spec in entry["files"] + entry.get("validation_files", []):
        raw_file = RawFile(**spec)
        local = resolve_raw_file(raw_file, local_raw_dir)
        url = f"{raw_dir.rstrip('/')}/{raw_file.path}"
        filesystem, remote_path = fsspec.core.url_to_fs(url)
        if filesystem.exists(remote_path) and filesystem.size(remote_path) == local.stat().st_size:
            logger.info("Already there: %s", url)
            continue
        filesystem.put_file(str(local), remote_path)
        logger.info("Uploaded %s -> %s", local, url)
        written.append(url)
    return written


def main(argv: list[str] | None = None) -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default="airline", help="a source of conf/base/catalog.yml")
    parser.add_argument("--env", default="aws", help="the Kedro environment whose raw_dir to fill")
    parser.add_argument("--project-path", type=Path, default=Path.cwd())
    args = parser.parse_args(argv)
    logger.setLevel(logging.INFO)
    upload_source(raw_entry(args.project_path.resolve(), args.env, args.source))


if __name__ == "__main__":
    main()
