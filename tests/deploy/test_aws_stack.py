"""deploy/aws/deploy.py against moto's server on loopback: create, update and delete the stack.

The script runs as a user runs it (a child process); ``AWS_ENDPOINT_URL`` sends its calls to
moto. moto applies neither security-group rules, bucket versioning, the bucket's public access
block nor a target group's targets from a template, so those are left to cfn-lint and a real
deployment; everything else the template declares is checked here.
"""

from __future__ import annotations

import ast
import base64
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from cfnlint.decode import cfn_yaml
from moto.server import ThreadedMotoServer

from tests.conftest import PROJECT_ROOT

pytestmark = pytest.mark.integration

DEPLOY = PROJECT_ROOT / "deploy" / "aws" / "deploy.py"
TEMPLATE_TEXT = (PROJECT_ROOT / "deploy" / "aws" / "sentiment-api.yaml").read_text()
REGION = "us-east-1"
STACK = "sentiment-test"
KEY_NAME = "sentiment-test-key"
AL2023 = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
EXPECTED_RESOURCES = {
    "Bucket": "AWS::S3::Bucket",
    "Repository": "AWS::ECR::Repository",
    "InstanceRole": "AWS::IAM::Role",
    "InstanceProfile": "AWS::IAM::InstanceProfile",
    "ApiSecurityGroup": "AWS::EC2::SecurityGroup",
    "LoadBalancerSecurityGroup": "AWS::EC2::SecurityGroup",
    "Instance": "AWS::EC2::Instance",
}


@pytest.fixture(scope="module")
def aws_env() -> dict[str, str]:
    """Environment for the script and the checks: moto on a free loopback port, fake keys."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("AWS_") or key == "AWS_CA_BUNDLE"
    }
    env.update(
        AWS_ENDPOINT_URL=f"http://{host}:{port}",
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION=REGION,
    )
    yield env
    server.stop()


@pytest.fixture(scope="module")
def aws(aws_env):
    """boto3 clients on the same moto server."""

    def client(service: str):
        return boto3.client(
            service,
            endpoint_url=aws_env["AWS_ENDPOINT_URL"],
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    return client


def deploy(env: dict[str, str], *args: str, stack: str = STACK) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(DEPLOY), "--stack-name", stack, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def up(env: dict[str, str], *args: str, stack: str = STACK) -> dict[str, str]:
    result = deploy(env, "up", "--no-image", *args, stack=stack)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def instance_user_data(aws, instance_id: str) -> str:
    attribute = aws("ec2").describe_instance_attribute(InstanceId=instance_id, Attribute="userData")
    return base64.b64decode(attribute["UserData"]["Value"]).decode()


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    """A directory laid out like an MLflow model (what --model-dir uploads, byte for byte)."""
    directory = tmp_path_factory.mktemp("model")
    (directory / "MLmodel").write_text("flavors:\n  python_function: {}\n")
    (directory / "artifacts").mkdir()
    (directory / "artifacts" / "sentiment_model.pkl").write_bytes(os.urandom(2048))
    return directory


@pytest.fixture(scope="module")
def created(aws_env, aws, model_dir) -> dict[str, str]:
    aws("ec2").create_key_pair(KeyName=KEY_NAME)
    return up(
        aws_env,
        "--allowed-cidr",
        "198.51.100.7/32",
        "--key-name",
        KEY_NAME,
        "--image-tag",
        "v1",
        "--model-dir",
        str(model_dir),
    )


def test_create_makes_every_resource_and_output(created, aws):
    stack = aws("cloudformation").describe_stacks(StackName=STACK)["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    resources = aws("cloudformation").describe_stack_resources(StackName=STACK)["StackResources"]
    # moto lists a resource whose condition is false (the HTTPS ones) as an entry without a
    # logical id; CloudFormation does not list it at all.
    created_resources = {
        r["LogicalResourceId"]: r["ResourceType"] for r in resources if "LogicalResourceId" in r
    }
    assert created_resources == EXPECTED_RESOURCES
    assert set(created) == {
        "Endpoint",
        "InstanceId",
        "BucketName",
        "RepositoryUri",
        "ModelUri",
        "InstanceRoleArn",
        "ApiKeyParameter",
    }
    assert re.fullmatch(
        rf"s3://{created['BucketName']}/models/sentiment/[0-9a-f]{{16}}", created["ModelUri"]
    )


def test_bucket_is_encrypted_and_holds_the_uploaded_model(created, aws, model_dir):
    s3 = aws("s3")
    bucket = created["BucketName"]
    rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    prefix = created["ModelUri"].removeprefix(f"s3://{bucket}/")
    for path in (model_dir / "MLmodel", model_dir / "artifacts" / "sentiment_model.pkl"):
        key = f"{prefix}/{path.relative_to(model_dir)}"
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == path.read_bytes()


def test_repository_is_the_one_the_outputs_name(created, aws):
    (repository,) = aws("ecr").describe_repositories(repositoryNames=[f"{STACK}-api"])[
        "repositories"
    ]
    assert repository["repositoryUri"] == created["RepositoryUri"]


def role_grants(aws, role_arn: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """``{action: resource}`` and ``{action: condition}`` of the role's one inline policy; an
    action granted by several statements maps to the list of their resources (conditions)."""
    iam = aws("iam")
    role_name = role_arn.rsplit("/", 1)[1]
    (policy_name,) = iam.list_role_policies(RoleName=role_name)["PolicyNames"]
    document = iam.get_role_policy(RoleName=role_name, PolicyName=policy_name)["PolicyDocument"]
    if isinstance(document, str):
        # moto hands back a policy created by a template as a Python literal, not JSON.
        document = ast.literal_eval(document)
    granted, conditions = {}, {}
    for statement in document["Statement"]:
        assert statement["Effect"] == "Allow"
        actions = (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
        for action in actions:
            if action in granted:
                granted[action] = [*always_list(granted[action]), statement["Resource"]]
                conditions[action] = [*always_list(conditions[action]), statement.get("Condition")]
            else:
                granted[action] = statement["Resource"]
                conditions[action] = statement.get("Condition")
    return granted, conditions


def always_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def test_instance_role_reaches_only_the_model_prefix_its_key_and_repository(created, aws):
    iam = aws("iam")
    role_name = created["InstanceRoleArn"].rsplit("/", 1)[1]
    bucket_arn = f"arn:aws:s3:::{created['BucketName']}"
    repository = aws("ecr").describe_repositories(repositoryNames=[f"{STACK}-api"])
    repository_arn = repository["repositories"][0]["repositoryArn"]
    prefix = created["ModelUri"].removeprefix(f"s3://{created['BucketName']}/")
    granted, conditions = role_grants(aws, created["InstanceRoleArn"])
    key_arn = f"arn:aws:ssm:{REGION}:123456789012:parameter{created['ApiKeyParameter']}"
    serving = f"{bucket_arn}/sentiment-mlops/01_raw/serving/*"
    assert granted == {
        "s3:ListBucket": [bucket_arn, bucket_arn],
        "s3:GetObject": [f"{bucket_arn}/{prefix}/*", serving],
        "s3:PutObject": serving,  # the prediction log and feedback only
        "ssm:GetParameter": key_arn,
        "ecr:BatchCheckLayerAvailability": repository_arn,
        "ecr:BatchGetImage": repository_arn,
        "ecr:GetDownloadUrlForLayer": repository_arn,
        "ecr:GetAuthorizationToken": "*",  # AWS offers no narrower form of this one
    }
    assert conditions["s3:ListBucket"] == [
        {"StringLike": {"s3:prefix": [prefix, f"{prefix}/*"]}},
        {
            "StringLike": {
                "s3:prefix": ["sentiment-mlops/01_raw/serving", "sentiment-mlops/01_raw/serving/*"]
            }
        },
    ]
    trust = iam.get_role(RoleName=role_name)["Role"]["AssumeRolePolicyDocument"]
    assert trust["Statement"][0]["Principal"] == {"Service": "ec2.amazonaws.com"}


def test_instance_runs_the_image_with_the_bucket_model(created, aws):
    ec2 = aws("ec2")
    (reservation,) = ec2.describe_instances(InstanceIds=[created["InstanceId"]])["Reservations"]
    (instance,) = reservation["Instances"]
    assert instance["InstanceType"] == "t3.small"
    assert instance["KeyName"] == KEY_NAME
    ami = aws("ssm").get_parameter(Name=AL2023)["Parameter"]["Value"]
    assert instance["ImageId"] == ami
    role_name = created["InstanceRoleArn"].rsplit("/", 1)[1]
    profiles = aws("iam").list_instance_profiles_for_role(RoleName=role_name)["InstanceProfiles"]
    assert instance["IamInstanceProfile"]["Arn"] == profiles[0]["Arn"]
    assert created["Endpoint"] == f"http://{instance['PublicDnsName']}:8000"
    user_data = instance_user_data(aws, created["InstanceId"])
    assert f"IMAGE={created['RepositoryUri']}:v1\n" in user_data
    assert f"SENTIMENT_MODEL_URI={created['ModelUri']}\n" in user_data
    assert '--port "$API_PORT"' in user_data and "API_PORT=8000\n" in user_data
    assert "sentiment-mlops serve --host 0.0.0.0" in user_data
    serving = f"s3://{created['BucketName']}/sentiment-mlops/01_raw/serving"
    assert f"SENTIMENT_PREDICTION_LOG_DIR={serving}/predictions\n" in user_data
    assert f"SENTIMENT_FEEDBACK_DIR={serving}/feedback\n" in user_data
    assert "-e SENTIMENT_PREDICTION_LOG_DIR -e SENTIMENT_FEEDBACK_DIR" in user_data


def test_api_key_lives_in_ssm_and_nowhere_in_the_stack(created, aws, aws_env):
    name = created["ApiKeyParameter"]
    assert name == f"/sentiment-mlops/{STACK}/api-key"
    parameter = aws("ssm").get_parameter(Name=name, WithDecryption=True)["Parameter"]
    assert parameter["Type"] == "SecureString"
    key = parameter["Value"]
    assert len(key) >= 32
    user_data = instance_user_data(aws, created["InstanceId"])
    assert f"API_KEY_PARAMETER={name}\n" in user_data
    assert "aws ssm get-parameter --with-decryption" in user_data
    assert "-e SENTIMENT_API_KEY" in user_data  # handed over by name, not on a command line
    template = aws("cloudformation").get_template(StackName=STACK)["TemplateBody"]
    assert key not in user_data and key not in str(template)
    stack = aws("cloudformation").describe_stacks(StackName=STACK)["Stacks"][0]
    assert key not in json.dumps(stack, default=str)
    # Another `up` keeps the key.
    same = ("--allowed-cidr", "198.51.100.7/32", "--key-name", KEY_NAME, "--image-tag", "v1")
    result = deploy(aws_env, "up", "--no-image", *same)
    assert result.returncode == 0, result.stderr
    assert "(kept)" in result.stderr
    again = aws("ssm").get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
    assert again == key


def test_https_stack_puts_a_load_balancer_with_the_certificate_in_front(aws_env, aws):
    stack = "sentiment-https"
    certificate = aws("acm").request_certificate(DomainName="api.example.com")["CertificateArn"]
    vpc = aws("ec2").describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])
    vpc_id = vpc["Vpcs"][0]["VpcId"]
    subnets = aws("ec2").describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])
    subnet_ids = [subnet["SubnetId"] for subnet in subnets["Subnets"]][:2]
    https = (
        *("--certificate-arn", certificate, "--vpc-id", vpc_id),
        *("--subnet-ids", ",".join(subnet_ids)),
    )
    outputs = up(aws_env, "--allowed-cidr", "198.51.100.7/32", *https, stack=stack)
    elbv2 = aws("elbv2")
    (balancer,) = elbv2.describe_load_balancers()["LoadBalancers"]
    assert outputs["Endpoint"] == f"https://{balancer['DNSName']}"
    assert balancer["Scheme"] == "internet-facing"
    listeners = {
        listener["Port"]: listener
        for listener in elbv2.describe_listeners(LoadBalancerArn=balancer["LoadBalancerArn"])[
            "Listeners"
        ]
    }
    assert listeners[443]["Protocol"] == "HTTPS"
    assert listeners[443]["Certificates"][0]["CertificateArn"] == certificate
    assert listeners[443]["SslPolicy"].startswith("ELBSecurityPolicy-TLS13")
    assert listeners[80]["DefaultActions"][0]["Type"] == "redirect"
    (group,) = elbv2.describe_target_groups()["TargetGroups"]
    assert group["HealthCheckPath"] == "/ready"  # readiness: no traffic before the model
    # moto does not register a template's targets: the template says the instance is one.
    template = cfn_yaml.loads(TEMPLATE_TEXT)  # short forms (!Ref) as their long forms
    assert template["Resources"]["TargetGroup"]["Properties"]["Targets"] == [
        {"Id": {"Ref": "Instance"}, "Port": {"Ref": "ApiPort"}}
    ]
    (reservation,) = aws("ec2").describe_instances(InstanceIds=[outputs["InstanceId"]])[
        "Reservations"
    ]
    assert reservation["Instances"][0]["SubnetId"] == subnet_ids[0]
    # An update that does not name the certificate keeps HTTPS.
    again = up(aws_env, "--allowed-cidr", "198.51.100.0/24", stack=stack)
    assert again["Endpoint"] == outputs["Endpoint"]
    assert deploy(aws_env, "down", "--delete-bucket", stack=stack).returncode == 0


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (("--certificate-arn", "arn:aws:acm:us-east-1:123456789012:certificate/abc"), "--vpc-id"),
        (
            ("--certificate-arn", "my-cert", "--vpc-id", "vpc-1", "--subnet-ids", "a,b"),
            "not an ACM",
        ),
        (
            (
                "--vpc-id",
                "vpc-12345678",
            ),
            "add --certificate-arn",
        ),
    ],
)
def test_incomplete_https_arguments_are_refused_before_any_call(aws_env, aws, arguments, message):
    result = deploy(
        aws_env,
        "up",
        "--no-image",
        "--allowed-cidr",
        "198.51.100.7/32",
        *arguments,
        stack="sentiment-refused",
    )
    assert result.returncode == 1 and message in result.stderr
    assert "Traceback" not in result.stderr
    stacks = aws("cloudformation").list_stacks()["StackSummaries"]
    assert "sentiment-refused" not in {summary["StackName"] for summary in stacks}


def test_update_changes_the_stack_in_place(created, aws_env, aws):
    updated = up(
        aws_env, "--allowed-cidr", "198.51.100.0/24", "--key-name", KEY_NAME, "--image-tag", "v1"
    )
    stack = aws("cloudformation").describe_stacks(StackName=STACK)["Stacks"][0]
    assert stack["StackStatus"] == "UPDATE_COMPLETE"
    parameters = {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}
    assert parameters["AllowedCidr"] == "198.51.100.0/24"
    assert updated == created  # same bucket, repository, instance and endpoint

    again = deploy(
        aws_env,
        "up",
        "--no-image",
        "--allowed-cidr",
        "198.51.100.0/24",
        "--key-name",
        KEY_NAME,
        "--image-tag",
        "v1",
    )
    # Running `up` again is safe (real CloudFormation answers "No updates are to be
    # performed", which the script reports; moto simply updates again).
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout) == created


def test_new_model_dir_goes_to_a_new_prefix_and_leaves_the_served_one_alone(
    created, aws_env, aws, model_dir, tmp_path
):
    served = created["ModelUri"]
    newer = tmp_path / "newer"
    shutil.copytree(model_dir, newer)
    (newer / "artifacts" / "sentiment_model.pkl").write_bytes(os.urandom(2048))
    updated = up(
        aws_env,
        *("--allowed-cidr", "198.51.100.0/24", "--key-name", KEY_NAME, "--image-tag", "v1"),
        *("--model-dir", str(newer)),
    )
    bucket = created["BucketName"]
    new_prefix = updated["ModelUri"].removeprefix(f"s3://{bucket}/")
    assert updated["ModelUri"] != served
    stack = aws("cloudformation").describe_stacks(StackName=STACK)["Stacks"][0]
    parameters = {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}
    assert parameters["ModelPrefix"] == new_prefix  # the instance restarts on the new prefix
    new_key = f"{new_prefix}/artifacts/sentiment_model.pkl"
    new_bytes = aws("s3").get_object(Bucket=bucket, Key=new_key)["Body"].read()
    assert new_bytes == (newer / "artifacts" / "sentiment_model.pkl").read_bytes()
    old_key = f"{served.removeprefix(f's3://{bucket}/')}/artifacts/sentiment_model.pkl"
    old_bytes = aws("s3").get_object(Bucket=bucket, Key=old_key)["Body"].read()
    assert old_bytes == (model_dir / "artifacts" / "sentiment_model.pkl").read_bytes()


def test_a_stack_that_follows_an_mlflow_server_serves_the_champion_alias(aws_env, aws):
    uri, stack = "http://mlflow.internal:5000", "sentiment-follow"
    cidr = ("--allowed-cidr", "198.51.100.0/24")
    outputs = up(aws_env, *cidr, "--image-tag", "v1", "--mlflow-tracking-uri", uri, stack=stack)
    assert outputs["ModelUri"] == "models:/sentiment@champion"
    user_data = instance_user_data(aws, outputs["InstanceId"])
    assert "SENTIMENT_MODEL_URI=models:/sentiment@champion\n" in user_data
    assert f"MLFLOW_TRACKING_URI={uri}\n" in user_data
    assert "-e MLFLOW_TRACKING_URI" in user_data
    # It reads the MLflow artifacts' prefix of the bucket, not the served-directory one.
    granted, _ = role_grants(aws, outputs["InstanceRoleArn"])
    assert granted["s3:GetObject"][0] == f"arn:aws:s3:::{outputs['BucketName']}/mlflow/*"
    # An update that names neither keeps following the server.
    again = up(aws_env, *cidr, "--image-tag", "v2", stack=stack)
    assert again["ModelUri"] == "models:/sentiment@champion"
    both = deploy(
        aws_env,
        "up",
        "--no-image",
        *cidr,
        "--mlflow-tracking-uri",
        uri,
        "--model-dir",
        "x",
        stack=stack,
    )
    assert both.returncode == 1 and "not both" in both.stderr
    assert deploy(aws_env, "down", "--delete-bucket", stack=stack).returncode == 0


def test_bad_stack_name_is_refused_before_any_call(aws_env):
    result = subprocess.run(
        [sys.executable, str(DEPLOY), "--stack-name", "Sentiment_API", "status"],
        env=aws_env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "use lower-case letters" in result.stderr


def test_down_deletes_the_stack_and_keeps_the_bucket(created, aws_env, aws):
    result = deploy(aws_env, "down")
    assert result.returncode == 0, result.stderr
    assert f"Kept bucket {created['BucketName']}" in result.stderr
    assert f"Deleted the API key {created['ApiKeyParameter']}" in result.stderr
    with pytest.raises(ClientError):
        aws("ssm").get_parameter(Name=created["ApiKeyParameter"])
    stacks = aws("cloudformation").list_stacks()["StackSummaries"]
    assert {s["StackStatus"] for s in stacks if s["StackName"] == STACK} == {"DELETE_COMPLETE"}
    (reservation,) = aws("ec2").describe_instances(InstanceIds=[created["InstanceId"]])[
        "Reservations"
    ]
    assert reservation["Instances"][0]["State"]["Name"] == "terminated"
    with pytest.raises(ClientError):
        aws("ecr").describe_repositories(repositoryNames=[f"{STACK}-api"])
    with pytest.raises(ClientError):
        aws("iam").get_role(RoleName=created["InstanceRoleArn"].rsplit("/", 1)[1])
    aws("s3").head_bucket(Bucket=created["BucketName"])  # retained: it holds the data

    missing = deploy(aws_env, "down")
    assert missing.returncode == 1
    assert f"There is no stack {STACK}" in missing.stderr


def test_down_with_delete_bucket_removes_every_version(aws_env, aws):
    env = aws_env
    outputs = subprocess.run(
        [
            sys.executable,
            str(DEPLOY),
            "--stack-name",
            "sentiment-purge",
            "up",
            "--no-image",
            "--allowed-cidr",
            "198.51.100.7/32",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    bucket = json.loads(outputs.stdout)["BucketName"]
    s3 = aws("s3")
    for body in (b"first", b"second"):
        s3.put_object(Bucket=bucket, Key="data/texts.csv", Body=body)
    s3.delete_object(Bucket=bucket, Key="data/texts.csv")  # leaves a delete marker
    result = subprocess.run(
        [sys.executable, str(DEPLOY), "--stack-name", "sentiment-purge", "down", "--delete-bucket"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    with pytest.raises(ClientError):
        s3.head_bucket(Bucket=bucket)
