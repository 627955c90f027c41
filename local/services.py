"""The backing services of the local environment, for callers outside `local/` (the app's tests).

Each part lives in a module of its own: `postgres` (a Debian PostgreSQL cluster standing in for RDS),
`redis` (redis-server without persistence), `moto` (S3, SQS, Secrets Manager and KMS in memory, with
the stack's resources), `haproxy` (the load balancer) and `app_process` (replicas, worker, migration);
`service` holds what they share. Every service runs in its own process group with its output in
``<base_dir>/logs/``, and can be stopped and started again on the same port and data directory.
"""

from __future__ import annotations

from local.moto import (
    AWS_REGION,
    AWS_TEST_CREDENTIALS,
    PASSWORD_EXCLUDED_CHARACTERS,
    AwsResources,
    CloudSecrets,
    aws_client,
    create_aws_resources,
    create_cloud_secrets,
    provision_aws,
    start_moto,
)
from local.postgres import postgres_home, remove_postgres_data, start_postgres
from local.redis import start_redis
from local.service import READY_TIMEOUT, Service, ServiceError, require_binary

__all__ = [
    "AWS_REGION", "AWS_TEST_CREDENTIALS", "PASSWORD_EXCLUDED_CHARACTERS", "READY_TIMEOUT", "AwsResources",
    "CloudSecrets", "Service", "ServiceError", "aws_client", "create_aws_resources", "create_cloud_secrets",
    "postgres_home", "provision_aws", "remove_postgres_data", "require_binary", "start_moto", "start_postgres",
    "start_redis",
]
