"""moto server for the local environment: S3, SQS, Secrets Manager and KMS in memory on 127.0.0.1,
with the receipts bucket, the work queue and its DLQ, the database secrets and the JWT signing key
created as the stack creates them in the cloud (again after each restart: moto forgets)."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local import probe, procs
from local.service import READY_TIMEOUT, Service, launch_on_port, log_path_of

AWS_REGION = "us-east-1"
AWS_TEST_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


@dataclass(frozen=True)
class AwsResources:
    bucket: str
    queue_url: str
    dlq_url: str
    max_receive_count: int

    def to_json(self) -> dict[str, Any]:
        return {
            "bucket": self.bucket,
            "queue_url": self.queue_url,
            "dlq_url": self.dlq_url,
            "max_receive_count": self.max_receive_count,
        }


def start_moto(base_dir: Path, *, port: int | None = None, timeout: float = READY_TIMEOUT) -> Service:
    """Start a moto server (S3, SQS) on 127.0.0.1. It keeps everything in memory."""
    base_dir = Path(base_dir).absolute()
    port = port or procs.free_port()
    log_path = log_path_of(base_dir, "moto")
    argv = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    url = f"http://127.0.0.1:{port}"
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    env.update(AWS_TEST_CREDENTIALS, AWS_DEFAULT_REGION=AWS_REGION)

    def launch() -> subprocess.Popen[bytes]:
        return launch_on_port(
            "moto", port, argv, log_path=log_path, env=env,
            ready=lambda: probe.answers(url + "/moto-api/"), what=f"moto server on 127.0.0.1:{port}",
            timeout=timeout, hint=" (is moto[server] installed in this virtualenv?)",
        )

    service = Service(name="moto", port=port, url=url, base_dir=base_dir, log_path=log_path, _launch=launch)
    return service.start()


def aws_client(service_name: str, endpoint_url: str, **options: Any) -> Any:
    """A boto3 client for the moto server (test credentials; never a real AWS endpoint)."""
    import boto3

    return boto3.client(
        service_name,
        endpoint_url=endpoint_url,
        region_name=AWS_REGION,
        aws_access_key_id=AWS_TEST_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=AWS_TEST_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        **options,
    )


def create_aws_resources(
    moto_url: str,
    *,
    bucket: str = "stateless-receipts",
    queue: str = "stateless-orders",
    max_receive_count: int = 3,
    visibility_timeout: int = 10,
) -> AwsResources:
    """Create the receipts bucket, the work queue and its dead-letter queue (idempotent)."""
    if max_receive_count < 1:
        raise ValueError(f"max_receive_count must be at least 1, got {max_receive_count}")
    if visibility_timeout < 0:
        raise ValueError(f"visibility_timeout must not be negative, got {visibility_timeout}")
    s3 = aws_client("s3", moto_url)
    sqs = aws_client("sqs", moto_url)
    with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
        s3.create_bucket(Bucket=bucket)
    dlq_url = sqs.create_queue(QueueName=f"{queue}-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_receive_count)})
    queue_url = sqs.create_queue(
        QueueName=queue,
        Attributes={"RedrivePolicy": redrive, "VisibilityTimeout": str(visibility_timeout)},
    )["QueueUrl"]
    return AwsResources(bucket=bucket, queue_url=queue_url, dlq_url=dlq_url, max_receive_count=max_receive_count)


@dataclass(frozen=True)
class CloudSecrets:
    """What the stack creates for the app's identity: the master secret (for the migration runner only),
    the app role's secret, and the asymmetric KMS key tokens are signed with."""

    master_secret_arn: str
    database_secret_arn: str
    jwt_kms_key_id: str

    def to_json(self) -> dict[str, str]:
        return {
            "master_secret_arn": self.master_secret_arn,
            "database_secret_arn": self.database_secret_arn,
            "jwt_kms_key_id": self.jwt_kms_key_id,
        }


APP_DB_ROLE = "app"
# The characters AWS's rotation templates exclude from generated database passwords.
PASSWORD_EXCLUDED_CHARACTERS = "/@\"'\\"


def create_cloud_secrets(
    moto_url: str, *, master_user: str, master_password: str, host: str, port: int, dbname: str
) -> CloudSecrets:
    """Secrets Manager secrets in the JSON shape RDS and the rotation templates use, and a KMS RSA_2048
    SIGN_VERIFY key, as the stack creates them in the cloud."""
    sm = aws_client("secretsmanager", moto_url)
    kms = aws_client("kms", moto_url)
    common = {"engine": "postgres", "host": host, "port": port, "dbname": dbname}
    master = sm.create_secret(
        Name="stateless/database/master",
        SecretString=json.dumps({"username": master_user, "password": master_password, **common}),
    )["ARN"]
    # A password as Secrets Manager generates one for a rotation (GetRandomPassword).
    password = sm.get_random_password(PasswordLength=32, ExcludeCharacters=PASSWORD_EXCLUDED_CHARACTERS)[
        "RandomPassword"
    ]
    app = sm.create_secret(
        Name="stateless/database/app",
        SecretString=json.dumps({"username": APP_DB_ROLE, "password": password, **common}),
    )["ARN"]
    key = kms.create_key(KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY", Description="stateless JWT signing key")
    return CloudSecrets(master, app, key["KeyMetadata"]["KeyId"])


def provision_aws(moto: Service, **kwargs: Any) -> AwsResources:
    """Create the AWS resources on a moto service now and again after each restart (moto forgets)."""

    def create(service: Service) -> None:
        service.details["resources"] = create_aws_resources(service.url, **kwargs)

    create(moto)
    moto.after_start.append(create)
    resources: AwsResources = moto.details["resources"]
    return resources
