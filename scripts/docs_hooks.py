"""mkdocs hooks (``hooks:`` in mkdocs.yml): the service's OpenAPI schema, exported at build time.

``openapi.json`` on the site is ``create_app().openapi()`` of the code being documented, written
at every build instead of committed, so it cannot drift from the app.
"""

from __future__ import annotations

import json

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files

from sentiment_mlops.api.app import create_app

OPENAPI_PATH = "openapi.json"


def on_files(files: Files, config: MkDocsConfig) -> Files:
    """Add ``openapi.json`` to the site, generated from the FastAPI app factory."""
    schema = json.dumps(create_app().openapi(), indent=2) + "\n"
    files.append(File.generated(config, OPENAPI_PATH, content=schema))
    return files
