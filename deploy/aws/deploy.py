"""Deploy the sentiment API to AWS: one CloudFormation stack (deploy/aws/sentiment-api.yaml).

    python deploy/aws/deploy.py up --allowed-cidr 203.0.113.7/32 --mlflow-tracking-uri URI
    python deploy/aws/deploy.py up --allowed-cidr 203.0.113.7/32 --model-dir DIR [--key-name KEY]
    python deploy/aws/deploy.py up ... --certificate-arn ARN --vpc-id VPC --subnet-ids A,B
    python deploy/aws/deploy.py status
    python deploy/aws/deploy.py down [--delete-bucket]

``up`` creates the stack, or updates it when it exists, and waits; builds the image and pushes
it to the stack's ECR repository (``--no-image`` skips that); then prints the stack's outputs,
among them the endpoint. What the API serves:

- ``--mlflow-tracking-uri URI``: ``models:/sentiment@champion`` on that MLflow server, polled, so
  every promotion reaches the running container without a deploy;
- ``--model-dir DIR``: a local MLflow model directory, uploaded under a new prefix named after
  its content (``MLmodel`` last, so the prefix never looks like a model before it is whole);
  the stack then points the instance at that prefix, never at files being overwritten;
- neither: what the stack served before.

The API key: ``up`` keeps it in SSM Parameter Store as a SecureString
(``/sentiment-mlops/<stack>/api-key``, created with a random value the first time, or
``--api-key-parameter NAME`` of your own); the instance reads it when the container starts, so it
is in neither the template nor the user data (``--no-api-key``: an API without a key). HTTPS:
``--certificate-arn`` (an ACM certificate of your domain) with ``--vpc-id`` and two or more
``--subnet-ids`` puts an Application Load Balancer in front (HTTP redirected to HTTPS) and lets
the instance take traffic from it only. Both are kept by later updates that do not name them.

The instance pulls the image and loads the model by itself (retrying until both are there). ``down`` deletes the stack and the API key it created; the bucket is kept (it holds data)
unless ``--delete-bucket`` is given.

Credentials and region come from the usual AWS settings (``AWS_PROFILE``, ``AWS_DEFAULT_REGION``, ...);
``AWS_ENDPOINT_URL`` points every call at another endpoint (the tests use moto's server).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import re
import secrets
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import ClientError, WaiterError

PROJECT_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = Path(__file__).with_name("sentiment-api.yaml")
DEFAULT_STACK = "sentiment-mlops"
NO_UPDATES = "No updates are to be performed"
# Parameters an update keeps when the command line does not name them (if the stack has them).
KEPT_PARAMETERS = {"ModelPrefix", "MlflowTrackingUri", "CertificateArn", "VpcId", "SubnetIds"}
CERTIFICATE_ARN_RE = re.compile(r"arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[A-Za-z0-9-]+")


class DeployError(RuntimeError):
    """Something the user has to fix; printed without a traceback."""


def say(message: str) -> None:
    """Progress on stderr, so that stdout carries only the outputs (JSON)."""
    print(message, file=sys.stderr, flush=True)  # noqa: T201


def default_api_key_parameter(stack: str) -> str:
    """Where ``up`` keeps a stack's API key unless told another name."""
    return f"/sentiment-mlops/{stack}/api-key"


def stack_parameters(args: argparse.Namespace, existing: set[str] | None) -> list[dict[str, str]]:
    """The template parameters set on the command line; the others keep their defaults, or,
    for an existing stack (``existing``: the parameters it has), their previous values (the
    model it serves and its HTTPS set-up, above all)."""
    values = {
        "InstanceType": args.instance_type,
        "KeyName": args.key_name,
        "AllowedCidr": args.allowed_cidr,
        "ApiPort": str(args.api_port),
        "ImageTag": args.image_tag,
        "ApiKeyParameterName": args.api_key_parameter,
    }
    if args.model_dir:
        values |= {"ModelPrefix": args.served_prefix, "MlflowTrackingUri": ""}
    elif args.mlflow_tracking_uri:
        values["MlflowTrackingUri"] = args.mlflow_tracking_uri
    if args.certificate_arn:
        values |= {
            "CertificateArn": args.certificate_arn,
            "VpcId": args.vpc_id,
            "SubnetIds": ",".join(args.subnet_ids),
        }
    if existing is None:  # explicit, so that a later update can keep them (UsePreviousValue)
        values.setdefault("ModelPrefix", args.model_prefix)
        values.setdefault("MlflowTrackingUri", "")
        for key in ("CertificateArn", "VpcId", "SubnetIds"):
            values.setdefault(key, "")
    parameters = [{"ParameterKey": key, "ParameterValue": value} for key, value in values.items()]
    if existing is not None:
        kept = (KEPT_PARAMETERS & existing) - set(values)
        parameters += [{"ParameterKey": key, "UsePreviousValue": True} for key in sorted(kept)]
    return parameters


def describe_stack(cloudformation: Any, name: str) -> dict[str, Any] | None:
    """The stack, or ``None`` when there is none of that name."""
    try:
        return cloudformation.describe_stacks(StackName=name)["Stacks"][0]
    except ClientError as error:
        if "does not exist" in str(error):
            return None
        raise


def stack_outputs(stack: dict[str, Any]) -> dict[str, str]:
    """``{OutputKey: OutputValue}`` of a described stack."""
    return {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}


def wait_for(cloudformation: Any, waiter_name: str, name: str) -> None:
    """Wait for a stack operation; on failure, say which resources failed and why."""
    try:
        cloudformation.get_waiter(waiter_name).wait(
            StackName=name, WaiterConfig={"Delay": 10, "MaxAttempts": 180}
        )
    except WaiterError as error:
        events = cloudformation.describe_stack_events(StackName=name)["StackEvents"]
        failures = [
            f"  {event['LogicalResourceId']}: {event.get('ResourceStatusReason', '')}"
            for event in events
            if event["ResourceStatus"].endswith("FAILED")
        ]
        raise DeployError(
            f"Stack {name} did not finish ({error}).\n" + "\n".join(failures)
        ) from error


def create_or_update(cloudformation: Any, args: argparse.Namespace) -> dict[str, str]:
    """Create the stack, or update it if it exists; wait; return its outputs."""
    stack = describe_stack(cloudformation, args.stack_name)
    exists = stack is not None
    existing = {p["ParameterKey"] for p in stack.get("Parameters", [])} if exists else None
    request = {
        "StackName": args.stack_name,
        "TemplateBody": TEMPLATE.read_text(),
        "Parameters": stack_parameters(args, existing),
        "Capabilities": ["CAPABILITY_IAM"],
        "Tags": [{"Key": "project", "Value": "sentiment-mlops"}],
    }
    if not exists:
        say(f"Creating stack {args.stack_name} ...")
        cloudformation.create_stack(**request, OnFailure="DELETE")
        wait_for(cloudformation, "stack_create_complete", args.stack_name)
    else:
        say(f"Updating stack {args.stack_name} ...")
        try:
            cloudformation.update_stack(**request)
        except ClientError as error:
            if NO_UPDATES not in str(error):
                raise
            say("Nothing to update.")
        else:
            wait_for(cloudformation, "stack_update_complete", args.stack_name)
    return stack_outputs(describe_stack(cloudformation, args.stack_name) or {})


def check_model_dir(model_dir: Path) -> None:
    if not (model_dir / "MLmodel").is_file():
        raise DeployError(
            f"{model_dir} is not an MLflow model directory (no MLmodel file). Download one with "
            "`mlflow artifacts download -u models:/sentiment@champion -d DIR`."
        )


def model_files(model_dir: Path) -> list[Path]:
    """The directory's files, ``MLmodel`` last: without it the prefix is not a model yet."""
    files = [path for path in sorted(model_dir.rglob("*")) if path.is_file()]
    return sorted(files, key=lambda path: path == model_dir / "MLmodel")


def content_prefix(model_dir: Path, prefix: str) -> str:
    """``prefix/<16 hex digits of the sha256 of the directory's names and bytes>``."""
    digest = hashlib.sha256()
    for path in model_files(model_dir):
        digest.update(str(path.relative_to(model_dir)).encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return f"{prefix.rstrip('/')}/{digest.hexdigest()[:16]}"


def upload_model(s3: Any, model_dir: Path, bucket: str, prefix: str) -> int:
    """Copy an MLflow model directory to ``s3://bucket/prefix/``, ``MLmodel`` last; return the
    file count."""
    files = model_files(model_dir)
    for path in files:
        s3.upload_file(str(path), bucket, f"{prefix}/{path.relative_to(model_dir)}")
    return len(files)


def docker(*args: str, stdin: str | None = None, cli: str = "docker") -> None:
    """Run the docker CLI; fail with its message."""
    result = subprocess.run([cli, *args], input=stdin, text=True, capture_output=True, check=False)
    if result.returncode != 0:
        raise DeployError(f"docker {args[0]} failed:\n{result.stderr[-3000:]}")


def build_and_push(ecr: Any, repository_uri: str, args: argparse.Namespace) -> str:
    """Build the project's image, log in to ECR, push ``repository_uri:tag``; return it."""
    image = f"{repository_uri}:{args.image_tag}"
    say(f"Building {image} ...")
    docker(
        "build",
        "--platform",
        "linux/amd64",  # the instance is x86_64, whatever machine builds the image
        "--build-arg",
        f"BASE_IMAGE={args.base_image}",
        "--build-arg",
        f"EXTRAS={args.extras}",
        "--tag",
        image,
        str(PROJECT_ROOT),
        cli=args.docker,
    )
    token = ecr.get_authorization_token()["authorizationData"][0]
    user, password = base64.b64decode(token["authorizationToken"]).decode().split(":", 1)
    registry = token["proxyEndpoint"]
    docker(
        "login", "--username", user, "--password-stdin", registry, stdin=password, cli=args.docker
    )
    say(f"Pushing {image} ...")
    docker("push", image, cli=args.docker)
    return image


def empty_and_delete_bucket(s3: Any, bucket: str) -> None:
    """Delete every version of every object, then the (versioned) bucket itself."""
    paginator = s3.get_paginator("list_object_versions")
    for page in paginator.paginate(Bucket=bucket):
        doomed = [
            {"Key": item["Key"], "VersionId": item["VersionId"]}
            for item in page.get("Versions", []) + page.get("DeleteMarkers", [])
        ]
        if doomed:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": doomed, "Quiet": True})
    s3.delete_bucket(Bucket=bucket)


def check_https_args(args: argparse.Namespace) -> None:
    """A certificate comes with a VPC and two subnets, and a network only with a certificate."""
    if not args.certificate_arn:
        if args.vpc_id or args.subnet_ids:
            raise DeployError("--vpc-id and --subnet-ids are for HTTPS: add --certificate-arn.")
        return
    if not CERTIFICATE_ARN_RE.fullmatch(args.certificate_arn):
        raise DeployError(
            f"--certificate-arn {args.certificate_arn!r} is not an ACM certificate ARN "
            "(arn:aws:acm:<region>:<account>:certificate/<id>)."
        )
    if not args.vpc_id or len(args.subnet_ids) < 2:  # noqa: PLR2004 - an ALB's minimum
        raise DeployError(
            "HTTPS needs --vpc-id and --subnet-ids with two or more public subnets of that VPC "
            "in different availability zones (for the load balancer)."
        )


def ensure_api_key(ssm: Any, name: str) -> None:
    """Create the SecureString ``name`` with a random key unless it exists (kept as it is)."""
    try:
        ssm.get_parameter(Name=name)
    except ClientError as error:
        if error.response["Error"]["Code"] != "ParameterNotFound":
            raise
    else:
        say(f"API key: SSM parameter {name} (kept)")
        return
    ssm.put_parameter(
        Name=name,
        Value=secrets.token_urlsafe(32),
        Type="SecureString",
        Description="X-API-Key of the sentiment API (read by its instance at start)",
    )
    say(
        f"API key: created SSM parameter {name}; read it with `aws ssm get-parameter "
        f"--with-decryption --name {name} --query Parameter.Value --output text`"
    )


def up(session: Any, args: argparse.Namespace) -> dict[str, str]:
    """Create or update the stack, upload the model, build and push the image."""
    if args.model_dir and args.mlflow_tracking_uri:
        raise DeployError(
            "Give --model-dir (serve that directory) or --mlflow-tracking-uri (follow the "
            "registry's champion), not both."
        )
    check_https_args(args)
    if args.no_api_key:
        args.api_key_parameter = ""
    else:
        args.api_key_parameter = args.api_key_parameter or default_api_key_parameter(
            args.stack_name
        )
        ensure_api_key(session.client("ssm"), args.api_key_parameter)
    if args.model_dir:
        check_model_dir(Path(args.model_dir))
        args.served_prefix = content_prefix(Path(args.model_dir), args.model_prefix)
    outputs = create_or_update(session.client("cloudformation"), args)
    if args.model_dir:
        count = upload_model(
            session.client("s3"), Path(args.model_dir), outputs["BucketName"], args.served_prefix
        )
        say(f"Uploaded {count} model files to {outputs['ModelUri']}")
    if args.build_image:
        build_and_push(session.client("ecr"), outputs["RepositoryUri"], args)
    say(f"Endpoint: {outputs['Endpoint']} (the instance needs a few minutes to boot)")
    return outputs


def down(session: Any, args: argparse.Namespace) -> dict[str, str]:
    """Delete the stack (and, on request, the bucket it leaves behind)."""
    cloudformation = session.client("cloudformation")
    stack = describe_stack(cloudformation, args.stack_name)
    if stack is None:
        raise DeployError(f"There is no stack {args.stack_name} in this account and region.")
    outputs = stack_outputs(stack)
    say(f"Deleting stack {args.stack_name} ...")
    cloudformation.delete_stack(StackName=args.stack_name)
    wait_for(cloudformation, "stack_delete_complete", args.stack_name)
    bucket = outputs.get("BucketName")
    if bucket and args.delete_bucket:
        empty_and_delete_bucket(session.client("s3"), bucket)
        say(f"Deleted bucket {bucket} and every object version in it.")
    elif bucket:
        say(f"Kept bucket {bucket} (data); `down --delete-bucket` deletes it.")
    if outputs.get("ApiKeyParameter") == default_api_key_parameter(args.stack_name):
        try:
            session.client("ssm").delete_parameter(Name=outputs["ApiKeyParameter"])
        except ClientError as error:
            if error.response["Error"]["Code"] != "ParameterNotFound":
                raise
        else:
            say(f"Deleted the API key {outputs['ApiKeyParameter']}.")
    return outputs


def status(session: Any, args: argparse.Namespace) -> dict[str, str]:
    """The stack's status and outputs."""
    stack = describe_stack(session.client("cloudformation"), args.stack_name)
    if stack is None:
        raise DeployError(f"There is no stack {args.stack_name} in this account and region.")
    return {"StackStatus": stack["StackStatus"], **stack_outputs(stack)}


def stack_name(value: str) -> str:
    """A stack name that also makes a valid ECR repository name (``<stack>-api``)."""
    if not re.fullmatch(r"[a-z][a-z0-9-]{0,59}", value):
        raise argparse.ArgumentTypeError(
            f"{value!r}: use lower-case letters, digits and '-', starting with a letter "
            "(the stack name is also the ECR repository's name)"
        )
    return value


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack-name", type=stack_name, default=DEFAULT_STACK)
    parser.add_argument("--region", help="AWS region (default: your AWS configuration's)")
    commands = parser.add_subparsers(dest="command", required=True)

    up_parser = commands.add_parser("up", help="create or update the stack, push the image")
    up_parser.add_argument(
        "--allowed-cidr", required=True, help="who may call the API, e.g. 203.0.113.7/32"
    )
    up_parser.add_argument("--instance-type", default="t3.small")
    up_parser.add_argument("--key-name", default="", help="EC2 key pair (optional)")
    up_parser.add_argument("--api-port", type=int, default=8000)
    up_parser.add_argument(
        "--image-tag",
        default=datetime.now(UTC).strftime("%Y%m%d%H%M%S"),
        help="tag to build, push and run (default: the current UTC time)",
    )
    up_parser.add_argument(
        "--mlflow-tracking-uri",
        help="an MLflow server the instance reaches: the API follows its champion alias",
    )
    up_parser.add_argument("--model-dir", help="local MLflow model directory to upload and serve")
    up_parser.add_argument(
        "--model-prefix",
        default="models/sentiment",
        help="where in the bucket --model-dir goes (under a sub-prefix named after its content)",
    )
    up_parser.add_argument(
        "--no-image",
        dest="build_image",
        action="store_false",
        help="do not build and push the image (it is already in the repository)",
    )
    up_parser.add_argument(
        "--api-key-parameter",
        help="SSM SecureString holding the API key (default: /sentiment-mlops/<stack>/api-key, "
        "created with a random key if missing)",
    )
    up_parser.add_argument(
        "--no-api-key", action="store_true", help="serve without an API key (not recommended)"
    )
    up_parser.add_argument(
        "--certificate-arn", help="ACM certificate of your domain: serve HTTPS from a load balancer"
    )
    up_parser.add_argument("--vpc-id", help="the VPC of --subnet-ids (with --certificate-arn)")
    up_parser.add_argument(
        "--subnet-ids",
        type=lambda value: [part for part in value.split(",") if part],
        default=[],
        help="two or more public subnets, comma-separated (with --certificate-arn)",
    )
    up_parser.add_argument("--base-image", default="python:3.11-slim")
    up_parser.add_argument(
        "--extras",
        default="",
        help="optional extras the image installs: 'pretrained' for a transformer champion",
    )
    up_parser.add_argument("--docker", default="docker", help="docker CLI to use")

    down_parser = commands.add_parser("down", help="delete the stack")
    down_parser.add_argument(
        "--delete-bucket",
        action="store_true",
        help="also delete the bucket and every object version in it",
    )
    commands.add_parser("status", help="print the stack's status and outputs")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    session = boto3.session.Session(region_name=args.region)
    if session.region_name is None:
        say("No AWS region configured: pass --region or set AWS_DEFAULT_REGION.")
        return 2
    command = {"up": up, "down": down, "status": status}[args.command]
    try:
        result = command(session, args)
    except DeployError as error:
        say(f"Error: {error}")
        return 1
    print(json.dumps(result, indent=2, sort_keys=True))  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main())
