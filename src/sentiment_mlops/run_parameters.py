"""The parameters of the Kedro run being set up, for the pipelines built from them.

The training pipeline has one modular pipeline per candidate model, and the candidates
differ per environment (``--env test`` has three, ``--env deep`` adds networks). Kedro
builds the pipelines lazily, after the session has created the run's context, so
:class:`RunParametersHook` keeps that context's parameters (environment and ``--params``
applied) for ``register_pipelines`` and makes Kedro build the pipelines again for them.
Without a session (``kedro registry``, kedro-viz without ``--include-hooks``, a direct
call) the parameters are read from ``conf/`` of the project the working directory is in
(a notebook's too), in the environment ``KEDRO_ENV`` names, or the default one, as a
session would.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from kedro.config import OmegaConfigLoader
from kedro.framework import project
from kedro.framework.hooks import hook_impl
from kedro.utils import find_kedro_project

_context_parameters: dict[str, Any] | None = None


def run_parameters() -> dict[str, Any]:
    """The parameters of the context being run, else those of ``KEDRO_ENV`` / the default."""
    if _context_parameters is not None:
        return _context_parameters
    # Imported here: the project settings import this module's hook.
    from sentiment_mlops.settings import CONFIG_LOADER_ARGS  # noqa: PLC0415

    project_path = find_kedro_project(Path.cwd()) or Path.cwd()  # notebooks/ is inside it
    loader = OmegaConfigLoader(
        conf_source=str(project_path / "conf"), env=os.getenv("KEDRO_ENV"), **CONFIG_LOADER_ARGS
    )
    return loader["parameters"]


class RunParametersHook:
    """Hands the run's parameters to ``register_pipelines`` for as long as the run lasts."""

    @hook_impl
    def after_context_created(self, context: Any) -> None:
        """Keep the context's parameters and drop pipelines built for other parameters."""
        global _context_parameters  # noqa: PLW0603 - Kedro's hooks and registry share no state
        # Not `context.params`: validating them builds every pipeline, which would call
        # run_parameters() before it has them. Its fallback loader would then register its
        # own `globals:` resolver in place of the run's (OmegaConf keeps one per process),
        # and the catalog would resolve its paths with another environment's globals.
        _context_parameters = context.config_loader["parameters"]
        if project.PACKAGE_NAME:
            project.pipelines.configure(f"{project.PACKAGE_NAME}.pipeline_registry")

    @hook_impl
    def after_pipeline_run(self) -> None:
        """Forget the finished run's parameters (a later session brings its own)."""
        _forget()

    @hook_impl
    def on_pipeline_error(self) -> None:
        """Forget the failed run's parameters."""
        _forget()


def _forget() -> None:
    global _context_parameters  # noqa: PLW0603 - see RunParametersHook.after_context_created
    _context_parameters = None
