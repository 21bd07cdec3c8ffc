"""The GitHub Actions workflows run only tested code, hold no AWS key, and decide to retrain
through ``scripts/retrain_recommended.py``, which is tested here too.

Every ``run:`` step is one ``make <target>`` of the Makefile or one script of scripts/, so that
nothing a workflow does is shell only a runner ever executes.
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import PROJECT_ROOT

pytestmark = pytest.mark.unit

WORKFLOWS = sorted((PROJECT_ROOT / ".github" / "workflows").glob("*.yml"))
SCRIPT = PROJECT_ROOT / "scripts" / "retrain_recommended.py"
MAKE_STEP = re.compile(r"make ([a-z][a-z0-9-]*)(?: [A-Z_]+=\S+)*")
SCRIPT_STEP = re.compile(r"(?:(?:\.venv/bin/)?python )?(scripts/[\w.-]+)(?: \S+)*")


def _load_script():
    spec = importlib.util.spec_from_file_location("retrain_recommended", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


retrain_script = _load_script()


def makefile_targets() -> set[str]:
    makefile = (PROJECT_ROOT / "Makefile").read_text()
    return set(re.findall(r"^([a-z][a-z0-9-]*):(?!=)", makefile, re.MULTILINE))


def workflow(name: str) -> dict:
    return yaml.safe_load((PROJECT_ROOT / ".github" / "workflows" / name).read_text())


def steps(path: Path):
    for job_name, job in yaml.safe_load(path.read_text())["jobs"].items():
        for step in job["steps"]:
            yield job_name, step


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda path: path.name)
def test_every_run_step_is_a_make_target_or_a_script(path):
    targets = makefile_targets()
    assert targets >= {"test", "test-fast", "deploy-aws"}, "Makefile targets not found"
    for job_name, step in steps(path):
        if "run" not in step:
            continue
        command = step["run"].strip()
        where = f"{path.name}, job {job_name}: {command!r}"
        if make := MAKE_STEP.fullmatch(command):
            assert make[1] in targets, f"{where}: no such Makefile target"
        elif script := SCRIPT_STEP.fullmatch(command):
            assert (PROJECT_ROOT / script[1]).is_file(), f"{where}: no such script"
        else:
            pytest.fail(f"{where}: a run step must be `make <target>` or a scripts/ file")


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda path: path.name)
def test_workflows_hold_no_aws_access_key(path):
    text = path.read_text()
    assert "AWS_ACCESS_KEY_ID" not in text and "AWS_SECRET_ACCESS_KEY" not in text
    for job_name, step in steps(path):
        if step.get("uses", "").startswith("aws-actions/configure-aws-credentials@"):
            inputs = step["with"]
            assert re.fullmatch(r"\$\{\{ secrets\.AWS_\w+_ROLE_ARN \}\}", inputs["role-to-assume"])
            assert not {"aws-access-key-id", "aws-secret-access-key"} & set(inputs), job_name
            job = yaml.safe_load(text)["jobs"][job_name]
            assert job["permissions"]["id-token"] == "write", f"{job_name}: OIDC needs id-token"


def test_workflows_default_to_read_only_and_end_in_time():
    for path in WORKFLOWS:
        document = yaml.safe_load(path.read_text())
        assert document["permissions"] == {"contents": "read"}, path.name
        assert "concurrency" in document, path.name
        for job_name, job in document["jobs"].items():
            assert job.get("timeout-minutes"), f"{path.name}: {job_name} has no timeout"


def test_deploy_workflow_deploys_main_to_production():
    document = workflow("deploy.yml")
    job = document["jobs"]["deploy"]
    assert job["environment"] == "production"
    assert job["env"]["ALLOWED_CIDR"] == "${{ vars.ALLOWED_CIDR }}"
    assert [step["run"] for step in job["steps"] if "run" in step] == ["make deploy-aws"]


def test_monitor_workflow_retrains_only_when_recommended():
    document = workflow("monitor.yml")
    assert document["env"]["KEDRO_ENV"] == "aws"
    monitor, retrain = document["jobs"]["monitor"], document["jobs"]["retrain"]
    runs = [step.get("run") for step in monitor["steps"] if "run" in step]
    assert runs == ["make monitor", ".venv/bin/python scripts/retrain_recommended.py"]
    decide = next(step for step in monitor["steps"] if step.get("id") == "decide")
    assert "retrain_recommended.py" in decide["run"]
    assert monitor["outputs"]["retrain"] == "${{ steps.decide.outputs.retrain }}"
    assert retrain["needs"] == "monitor"
    assert retrain["if"] == "needs.monitor.outputs.retrain == 'true'"
    assert [step["run"] for step in retrain["steps"] if "run" in step] == ["make retrain"]


# --- scripts/retrain_recommended.py ---------------------------------------------------------


def run_script(*args: str, cwd: Path, env: dict[str, str] | None = None):
    environment = {"PATH": "/usr/bin:/bin", **(env or {})}
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def write_report(root: Path, metrics: object) -> Path:
    report = root / "data" / "08_reporting" / "drift_metrics.json"
    report.parent.mkdir(parents=True)
    report.write_text(json.dumps(metrics))
    return report


@pytest.mark.parametrize("recommended", [True, False])
def test_retrain_recommended_prints_the_report_and_writes_the_step_output(tmp_path, recommended):
    write_report(tmp_path, {"retrain_recommended": recommended, "class_mix_psi": 0.3})
    output = tmp_path / "github_output"
    output.write_text("earlier=1\n")
    result = run_script(cwd=tmp_path, env={"GITHUB_OUTPUT": str(output)})
    answer = "true" if recommended else "false"
    assert (result.returncode, result.stdout) == (0, f"{answer}\n"), result.stderr
    assert output.read_text() == f"earlier=1\nretrain={answer}\n"


def test_retrain_recommended_reads_a_given_path_without_github_output(tmp_path):
    report = tmp_path / "report.json"
    report.write_text('{"retrain_recommended": true}')
    result = run_script(str(report), cwd=tmp_path)
    assert (result.returncode, result.stdout) == (0, "true\n"), result.stderr


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "not found: run `make monitor` first"),
        ({"class_mix_psi": 0.3}, "has no 'retrain_recommended' key"),
        ({"retrain_recommended": "yes"}, "'retrain_recommended' is 'yes', not true or false"),
        ("not json", "is not JSON"),
    ],
    ids=["missing file", "missing key", "not a boolean", "not json"],
)
def test_retrain_recommended_exits_2_without_an_answer(tmp_path, content, message):
    if content == "not json":
        (tmp_path / "data" / "08_reporting").mkdir(parents=True)
        (tmp_path / "data" / "08_reporting" / "drift_metrics.json").write_text("{")
    elif content is not None:
        write_report(tmp_path, content)
    output = tmp_path / "github_output"
    result = run_script(cwd=tmp_path, env={"GITHUB_OUTPUT": str(output)})
    assert result.returncode == 2
    assert result.stdout == ""
    assert message in result.stderr
    assert "drift_metrics.json" in result.stderr
    assert not output.exists(), "no answer must reach the workflow"


def test_retrain_recommended_loads_the_environments_catalog_dataset(tmp_path, monkeypatch):
    """A non-local KEDRO_ENV reads ``drift_metrics`` through the catalog (the aws one is
    versioned on S3); the base declaration, relative to the working directory, stands in."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(retrain_script.ReportError, match="drift_metrics of the 'base'"):
        retrain_script.load_from_catalog("base")
    write_report(tmp_path, {"retrain_recommended": True})
    metrics = retrain_script.load_from_catalog("base")
    assert retrain_script.retrain_recommended(metrics, "drift_metrics") is True
