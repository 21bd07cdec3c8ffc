"""Find a raw data file: in the project, in a local mirror, or at its pinned public URL.

The order is the one documented in the README:

1. ``data/01_raw/<path>`` (already in the project, for example after ``dvc pull``);
2. ``$SENTIMENT_DATA_MIRROR/<path>``, a directory laid out like ``shared/data``;
3. the public URL pinned to a commit, downloaded into ``data/01_raw/<path>``.

When the raw directory is a URL (``s3://bucket/prefix/01_raw`` in the ``aws`` environment), the
file must be there: it is copied, read-only, into a temporary directory the caller owns and
deleted with it, so nothing lands in the project (see ``fetch_remote_raw_file``).

Every file found is checked against its sha256, so a truncated download, an edited copy
or the wrong file fails loudly instead of training on something else.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import fsspec

logger = logging.getLogger(__name__)

MIRROR_ENV_VAR = "SENTIMENT_DATA_MIRROR"
_CHUNK = 1 << 20


class RawDataError(RuntimeError):
    """A raw data file could not be found, downloaded or verified."""


@dataclass(frozen=True)
class RawFile:
    """One raw file of a source: where it sits relative to the data root, and its identity."""

    path: str
    sha256: str | None = None
    url: str | None = None


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file, read in chunks so large files need little memory."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _verify(path: Path, expected: str | None) -> Path:
    if expected is None:
        return path
    actual = sha256_of(path)
    if actual != expected:
        raise RawDataError(
            f"Checksum mismatch for {path}: expected sha256 {expected}, got {actual}. "
            "The file is corrupt or not the pinned version: delete it and let the project "
            "fetch it again, or update 'sha256' in the catalog if you changed the data on purpose."
        )
    return path


def _download(url: str, destination: Path, expected: str | None) -> Path:
    """Download to a temporary file, verify it, then move it into place (never half-written)."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    logger.info("Downloading %s -> %s", url, destination)
    with tempfile.NamedTemporaryFile(dir=destination.parent, delete=False) as tmp:
        tmp_path = Path(tmp.name)
        try:
            with urllib.request.urlopen(url, timeout=60) as response:  # noqa: S310 - pinned https URL
                shutil.copyfileobj(response, tmp, _CHUNK)
        except Exception:
            tmp_path.unlink(missing_ok=True)
            raise
    try:
        _verify(tmp_path, expected)
    except RawDataError:
        tmp_path.unlink(missing_ok=True)
        raise
    tmp_path.replace(destination)
    return destination


def resolve_raw_file(raw_file: RawFile, raw_dir: str | Path, mirror: str | None = None) -> Path:
    """Return a verified local path for ``raw_file``, downloading it if it is nowhere local.

    Args:
        raw_file: the file to find.
        raw_dir: the project's raw data directory (``data/01_raw``).
        mirror: a mirror directory; defaults to ``$SENTIMENT_DATA_MIRROR``.

    Raises:
        RawDataError: the file is missing everywhere (the message lists every place
            looked at), its download failed, or its checksum does not match.
    """
    mirror = os.environ.get(MIRROR_ENV_VAR) if mirror is None else mirror
    local = Path(raw_dir) / raw_file.path
    looked = [str(local)]
    if local.is_file():
        return _verify(local, raw_file.sha256)
    if mirror:
        mirrored = Path(mirror) / raw_file.path
        looked.append(str(mirrored))
        if mirrored.is_file():
            return _verify(mirrored, raw_file.sha256)
    else:
        looked.append(f"${MIRROR_ENV_VAR} (not set)")
    if raw_file.url:
        try:
            return _download(raw_file.url, local, raw_file.sha256)
        except RawDataError:
            raise
        except Exception as error:  # network errors come in many types; all mean the same here
            looked.append(f"{raw_file.url} ({type(error).__name__}: {error})")
    else:
        looked.append("no public URL (this file is a derived copy; see PROVENANCE.md)")
    raise RawDataError(
        f"Raw data file '{raw_file.path}' not found. Looked in: " + "; ".join(looked) + ". "
        f"Put the file under {raw_dir}/, or set {MIRROR_ENV_VAR} to a directory laid out "
        "like shared/data (for example SENTIMENT_DATA_MIRROR=../shared/data)."
    )


def is_remote(raw_dir: str | Path) -> bool:
    """True when ``raw_dir`` is a URL (``s3://...``) rather than a local directory."""
    return "://" in str(raw_dir)


def fetch_remote_raw_file(raw_file: RawFile, raw_dir: str, destination: str | Path) -> Path:
    """Copy ``raw_dir/<path>`` (any fsspec URL) into ``destination`` and verify its sha256.

    The remote copy is only read. No mirror or public URL fallback: in a remote setup the
    bucket is the source of truth, and a missing object is an error to fix there.

    Raises:
        RawDataError: naming the URL and the cause (missing object, endpoint down, refused
            credentials...), or a checksum mismatch.
    """
    url = f"{str(raw_dir).rstrip('/')}/{raw_file.path}"
    local = Path(destination) / raw_file.path
    local.parent.mkdir(parents=True, exist_ok=True)
    try:
        filesystem, remote_path = fsspec.core.url_to_fs(url)
        filesystem.get_file(remote_path, str(local))
    except FileNotFoundError as error:
        raise RawDataError(
            f"Raw data file {url} not found ({error}). Upload the raw data first: "
            "`make upload-raw` (or `dvc pull` then the same), see the README."
        ) from error
    except Exception as error:  # botocore/aiohttp raise many types; all mean "could not read"
        raise RawDataError(
            f"Could not read raw data file {url}: {type(error).__name__}: {error}. "
            "Check AWS_ENDPOINT_URL, the credentials in the environment and the bucket name."
        ) from error
    return _verify(local, raw_file.sha256)


def upload_raw_files(
    raw_files: Iterable[RawFile], raw_dir: str, local_raw_dir: str | Path
) -> list[tuple[str, bool]]:
    """Copy each file, found and verified locally, to ``raw_dir/<path>`` (an fsspec URL).

    A file the destination already holds with the same size is not copied again. Returns
    ``(url, uploaded)`` per file.

    Raises:
        RawDataError: ``raw_dir`` is local, or a file is missing everywhere or corrupt.
    """
    if not is_remote(raw_dir):
        raise RawDataError(
            f"raw_dir '{raw_dir}' is local: choose an environment whose raw data is on s3://"
        )
    done = []
    for raw_file in raw_files:
        local = resolve_raw_file(raw_file, local_raw_dir)
        url = f"{raw_dir.rstrip('/')}/{raw_file.path}"
        filesystem, remote_path = fsspec.core.url_to_fs(url)
        if filesystem.exists(remote_path) and filesystem.size(remote_path) == local.stat().st_size:
            done.append((url, False))
            continue
        filesystem.put_file(str(local), remote_path)
        done.append((url, True))
    return done
