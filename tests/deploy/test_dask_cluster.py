"""deploy/aws/dask-cluster.yaml: what can be checked without AWS.

The stack is created on moto's server on loopback (its IAM statements, security groups and
workers read back); the scheduler and worker commands the instances run are run here, against
each other on 127.0.0.1, with the options the template gives them. cfn-lint runs in
tests/deploy/test_lint.py.
"""

from __future__ import annotations

import ast
import base64
import json
import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest
from distributed import Client
from moto.server import ThreadedMotoServer

from tests.conftest import PROJECT_ROOT
from tests.support.servers import free_port

pytestmark = pytest.mark.integration

TEMPLATE = PROJECT_ROOT / "deploy" / "aws" / "dask-cluster.yaml"
REGION = "us-east-1"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/sentiment-api:v3"
PARAMETERS = {
    "ImageUri": IMAGE,
    "Bucket": "sentiment-data",
    "InputPrefix": "incoming/tweets",
    "OutputPrefix": "scored",
    "WorkerCount": "3",
    "AllowedCidr": "198.51.100.7/32",
}
VENV_BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def aws():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()

    def client(service: str):
        return boto3.client(
            service,
            endpoint_url=f"http://{host}:{port}",
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    yield client
    server.stop()


@pytest.fixture(scope="module")
def stack(aws) -> dict[str, str]:
    """The stack's physical resource ids, by logical id."""
    cloudformation = aws("cloudformation")
    cloudformation.create_stack(
        StackName="sentiment-dask",
        TemplateBody=TEMPLATE.read_text(),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in PARAMETERS.items()],
        Capabilities=["CAPABILITY_IAM"],
    )
    resources = cloudformation.describe_stack_resources(StackName="sentiment-dask")
    return {
        r["LogicalResourceId"]: r.get("PhysicalResourceId") for r in resources["StackResources"]
    }


def role_statements(aws, role_name: str) -> dict[str, dict]:
    iam = aws("iam")
    (policy_name,) = iam.list_role_policies(RoleName=role_name)["PolicyNames"]
    document = iam.get_role_policy(RoleName=role_name, PolicyName=policy_name)["PolicyDocument"]
    if isinstance(document, str):
        # moto hands back a policy created by a template as a Python literal, not JSON.
        document = ast.literal_eval(document)
    return {statement["Sid"]: statement for statement in document["Statement"]}


def test_workers_read_the_input_prefix_and_write_the_output_prefix_only(aws, stack):
    statements = role_statements(aws, stack["WorkerRole"])
    bucket = "arn:aws:s3:::sentiment-data"
    s3 = {sid: s for sid, s in statements.items() if "s3:" in json.dumps(s["Action"])}
    assert s3["ReadTheInputPrefix"]["Action"] == "s3:GetObject"
    assert s3["ReadTheInputPrefix"]["Resource"] == f"{bucket}/incoming/tweets/*"
    assert set(s3["WriteTheOutputPrefix"]["Action"]) == {
        "s3:GetObject",
        "s3:PutObject",
        "s3:DeleteObject",
        "s3:AbortMultipartUpload",
    }
    assert s3["WriteTheOutputPrefix"]["Resource"] == f"{bucket}/scored/*"
    listing = s3["ListTheInputAndOutputPrefixes"]
    assert (listing["Action"], listing["Resource"]) == ("s3:ListBucket", bucket)
    assert set(listing["Condition"]["StringLike"]["s3:prefix"]) == {
        "incoming/tweets",
        "incoming/tweets/*",
        "scored",
        "scored/*",
    }
    assert set(s3) == {
        "ReadTheInputPrefix",
        "WriteTheOutputPrefix",
        "ListTheInputAndOutputPrefixes",
    }
    # Outside S3: pulling the image of the named repository, and ECR's per-account login.
    repository = "arn:aws:ecr:us-east-1:123456789012:repository/sentiment-api"
    assert statements["PullTheImage"]["Resource"] == repository
    assert {sid for sid, s in statements.items() if s["Resource"] == "*"} == {"LogInToEcr"}
    assert statements["LogInToEcr"]["Action"] == "ecr:GetAuthorizationToken"


def test_the_scheduler_may_only_pull_the_image(aws, stack):
    statements = role_statements(aws, stack["SchedulerRole"])
    assert set(statements) == {"PullTheImage", "LogInToEcr"}


def test_only_the_allowed_cidr_and_the_workers_reach_the_scheduler(aws, stack):
    ec2 = aws("ec2")
    (group,) = ec2.describe_security_groups(GroupIds=[stack["SchedulerSecurityGroup"]])[
        "SecurityGroups"
    ]
    ranges = [r["CidrIp"] for rule in group["IpPermissions"] for r in rule.get("IpRanges", [])]
    assert ranges == ["198.51.100.7/32"]
    assert {rule["FromPort"] for rule in group["IpPermissions"]} == {8786}


def test_the_workers_run_the_image_against_the_scheduler(aws, stack):
    ec2 = aws("ec2")
    (scheduler,) = ec2.describe_instances(InstanceIds=[stack["Scheduler"]])["Reservations"][0][
        "Instances"
    ]
    template = ec2.describe_launch_template_versions(LaunchTemplateId=stack["WorkerLaunchTemplate"])
    user_data = base64.b64decode(
        template["LaunchTemplateVersions"][0]["LaunchTemplateData"]["UserData"]
    ).decode()
    assert f"{IMAGE} dask worker tcp://{scheduler['PrivateIpAddress']}:8786" in user_data
    groups = aws("autoscaling").describe_auto_scaling_groups(
        AutoScalingGroupNames=[stack["Workers"]]
    )["AutoScalingGroups"]
    assert groups[0]["DesiredCapacity"] == 3


def _command(role: str) -> list[str]:
    """The arguments the template gives ``dask <role>`` after the image name."""
    (line,) = re.findall(rf"\$\{{ImageUri\}} dask {role} (.+)$", TEMPLATE.read_text(), re.M)
    return shlex.split(line)


def test_the_template_commands_start_a_working_cluster(tmp_path):
    scheduler_args = _command("scheduler")
    # Here on loopback, on a free port: the template's own host and port are the instance's.
    assert scheduler_args[:4] == ["--host", "0.0.0.0", "--port", "8786"]
    port = free_port()
    worker_args = _command("worker")
    assert worker_args[0] == "tcp://${Scheduler.PrivateIp}:8786"
    address = f"tcp://127.0.0.1:{port}"
    processes = [
        subprocess.Popen(
            [VENV_BIN / "dask", "scheduler", "--host", "127.0.0.1", "--port", str(port)]
            + scheduler_args[4:],
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    ]
    try:
        time.sleep(1)
        processes.append(
            subprocess.Popen(
                [VENV_BIN / "dask", "worker", address, "--host", "127.0.0.1", *worker_args[1:]],
                cwd=tmp_path,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        with Client(address, timeout=60) as client:
            client.wait_for_workers(os.cpu_count(), timeout=60)
            workers = client.scheduler_info()["workers"].values()
            assert len(workers) == os.cpu_count()  # --nworkers -1: one process per core
            assert {worker["nthreads"] for worker in workers} == {1}
            assert client.submit(sum, [1, 2, 3]).result(timeout=30) == 6
    finally:
        for process in reversed(processes):
            process.terminate()
            process.wait(timeout=30)
