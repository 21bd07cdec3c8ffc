"""Raw files: project dir first, then the mirror, then the pinned URL, always checksummed."""

from __future__ import annotations

import functools
import hashlib
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from sentiment_mlops.datasets.raw_files import RawDataError, RawFile, resolve_raw_file

CONTENT = b"text,label\nhello,positive\n"
SHA = hashlib.sha256(CONTENT).hexdigest()


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # keep test output clean
        pass


@pytest.fixture
def file_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A real HTTP server on 127.0.0.1 serving a directory, standing in for the public URL."""
    root = tmp_path / "public"
    root.mkdir()
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", root
    server.shutdown()
    server.server_close()


def _write(path: Path, content: bytes = CONTENT) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


@pytest.mark.unit
def test_project_copy_wins_over_mirror(tmp_path):
    local = _write(tmp_path / "raw" / "src" / "f.csv")
    _write(tmp_path / "mirror" / "src" / "f.csv", b"other")
    found = resolve_raw_file(RawFile("src/f.csv", SHA), tmp_path / "raw", str(tmp_path / "mirror"))
    assert found == local


@pytest.mark.unit
def test_mirror_is_used_when_project_has_no_copy(tmp_path):
    mirrored = _write(tmp_path / "mirror" / "src" / "f.csv")
    found = resolve_raw_file(RawFile("src/f.csv", SHA), tmp_path / "raw", str(tmp_path / "mirror"))
    assert found == mirrored
    assert not (tmp_path / "raw" / "src" / "f.csv").exists()  # the mirror is read in place


@pytest.mark.unit
def test_mirror_comes_from_the_environment(tmp_path, monkeypatch):
    mirrored = _write(tmp_path / "mirror" / "src" / "f.csv")
    monkeypatch.setenv("SENTIMENT_DATA_MIRROR", str(tmp_path / "mirror"))
    assert resolve_raw_file(RawFile("src/f.csv", SHA), tmp_path / "raw") == mirrored


@pytest.mark.integration
def test_download_from_pinned_url_lands_verified_in_raw_dir(tmp_path, file_server):
    base_url, public = file_server
    _write(public / "Kaggle.csv")
    raw_file = RawFile("src/f.csv", SHA, f"{base_url}/Kaggle.csv")
    found = resolve_raw_file(raw_file, tmp_path / "raw", mirror="")
    assert found == tmp_path / "raw" / "src" / "f.csv"
    assert found.read_bytes() == CONTENT


@pytest.mark.integration
def test_download_with_wrong_checksum_leaves_nothing_behind(tmp_path, file_server):
    base_url, public = file_server
    _write(public / "Kaggle.csv", b"tampered")
    raw_file = RawFile("src/f.csv", SHA, f"{base_url}/Kaggle.csv")
    with pytest.raises(RawDataError, match="Checksum mismatch"):
        resolve_raw_file(raw_file, tmp_path / "raw", mirror="")
    assert list((tmp_path / "raw" / "src").iterdir()) == []


@pytest.mark.unit
def test_checksum_mismatch_in_mirror_names_file_and_both_hashes(tmp_path):
    bad = _write(tmp_path / "mirror" / "src" / "f.csv", b"edited")
    with pytest.raises(RawDataError) as error:
        resolve_raw_file(RawFile("src/f.csv", SHA), tmp_path / "raw", str(tmp_path / "mirror"))
    message = str(error.value)
    assert str(bad) in message and SHA in message
    assert hashlib.sha256(b"edited").hexdigest() in message


@pytest.mark.integration
def test_missing_everywhere_says_where_it_looked(tmp_path, file_server):
    base_url, _ = file_server
    raw_file = RawFile("src/f.csv", SHA, f"{base_url}/missing.csv")
    with pytest.raises(RawDataError) as error:
        resolve_raw_file(raw_file, tmp_path / "raw", str(tmp_path / "mirror"))
    message = str(error.value)
    assert str(tmp_path / "raw" / "src" / "f.csv") in message
    assert str(tmp_path / "mirror" / "src" / "f.csv") in message
    assert f"{base_url}/missing.csv" in message and "404" in message
    assert "SENTIMENT_DATA_MIRROR" in message


@pytest.mark.unit
def test_file_without_public_url_explains_why(tmp_path):
    with pytest.raises(RawDataError, match="no public URL"):
        resolve_raw_file(RawFile("imdb/dev.csv.gz", SHA), tmp_path / "raw", mirror="")
