"""IAM and resource-policy documents as plain dicts, built from ARNs the caller already has.

Every document grants named actions on named resources; the only `Resource: "*"` grants are for
actions AWS does not let you scope (ECR's GetAuthorizationToken), and never with a `*` action.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

VERSION = "2012-10-17"

Statement = dict[str, Any]
Document = dict[str, Any]

# Regions that predate the ELB log-delivery service principal deliver access logs from a
# regional ELB account; newer regions only know the service principal.
ELB_LOG_ACCOUNTS = {
    "us-east-1": "127311923021",
    "us-east-2": "033677994240",
    "us-west-1": "027434742980",
    "us-west-2": "797873946194",
    "ca-central-1": "985666609251",
    "eu-central-1": "054676820928",
    "eu-west-1": "156460612806",
    "eu-west-2": "652711504416",
    "eu-west-3": "009996457667",
    "eu-north-1": "897822967062",
    "eu-south-1": "635631232127",
    "ap-east-1": "754344448648",
    "ap-northeast-1": "582318560864",
    "ap-northeast-2": "600734575887",
    "ap-northeast-3": "383597477331",
    "ap-southeast-1": "114774131450",
    "ap-southeast-2": "783225319266",
    "ap-south-1": "718504428378",
    "me-south-1": "076674570225",
    "sa-east-1": "507241528517",
    "af-south-1": "098369216593",
}


def document(statements: Iterable[Statement]) -> Document:
    return {"Version": VERSION, "Statement": list(statements)}


def allow(sid: str, actions: Sequence[str], resources: Sequence[str]) -> Statement:
    if not actions or not resources:
        raise ValueError(f"statement {sid}: actions and resources must both be non-empty")
    return {"Sid": sid, "Effect": "Allow", "Action": sorted(actions), "Resource": list(resources)}


def assume_role_policy(service: str, *, source_account: str | None = None,
                       source_arn: str | None = None) -> Document:
    """Trust policy letting one AWS service principal assume the role.

    With `source_account` (and `source_arn`) the service may assume it only on behalf of that account
    (and resource), which closes the cross-service confused-deputy path:
    https://docs.aws.amazon.com/IAM/latest/UserGuide/confused-deputy.html
    """
    statement: Statement = {
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": "sts:AssumeRole",
    }
    condition: dict[str, dict[str, str]] = {}
    if source_account is not None:
        condition["StringEquals"] = {"aws:SourceAccount": source_account}
    if source_arn is not None:
        condition["ArnLike"] = {"aws:SourceArn": source_arn}
    if condition:
        statement["Condition"] = condition
    return document([statement])


def flow_logs_policy(log_group_arn: str) -> Document:
    return document(
        [
            allow(
                "WriteFlowLogs",
                ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                [log_group_arn, f"{log_group_arn}:*"],
            )
        ]
    )


# What the web tier (`python -m app`) calls, and nothing else; the one grant for instances and pods.
WEB_SQS_ACTIONS = ("sqs:SendMessage",)
WEB_S3_ACTIONS = ("s3:GetObject",)
WEB_KMS_ACTIONS = ("kms:Sign", "kms:GetPublicKey")


def web_app_policy(
    *,
    bucket_arn: str,
    queue_arn: str,
    secret_arns: Sequence[str],
    signing_key_arn: str,
    object_prefix: str = "receipts/",
    kms_key_arns: Sequence[str] = (),
) -> Document:
    """The web app's own AWS calls: it relays the orders outbox to the queue (SendMessageBatch is
    authorised as sqs:SendMessage), presigns receipt downloads (the URL carries the signer's
    s3:GetObject), reads its database and Redis secrets, and signs tokens with the KMS key.

    Receipts use SSE-KMS with the AWS-managed aws/s3 key, whose key policy already admits every
    principal of the account through S3, so no kms grant is needed for them
    (https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html); a
    customer-managed key goes in `kms_key_arns`.
    """
    statements = [
        allow("EnqueueOrders", list(WEB_SQS_ACTIONS), [queue_arn]),
        allow("ReadReceipts", list(WEB_S3_ACTIONS), [f"{bucket_arn}/{object_prefix}*"]),
        allow("ReadAppSecrets", ["secretsmanager:GetSecretValue"], list(secret_arns)),
        allow("SignTokens", list(WEB_KMS_ACTIONS), [signing_key_arn]),
    ]
    if kms_key_arns:
        statements.append(allow("UseDataKeys", ["kms:Decrypt", "kms:GenerateDataKey"], list(kms_key_arns)))
    return document(statements)


def instance_host_policy(*, parameter_arns: Sequence[str], log_group_arn: str, repository_arn: str) -> Document:
    """What an app instance's host (the user data's start script and Docker) does: read the app's
    environment parameter, pull the image, ship the container's logs."""
    return document([
        allow("ReadAppEnvironment", ["ssm:GetParameter"], list(parameter_arns)),
        allow("PullAppImage", ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
              [repository_arn]),
        # GetAuthorizationToken is account-wide by design; it grants no image access by itself.
        allow("RegistryLogin", ["ecr:GetAuthorizationToken"], ["*"]),
        allow("ShipContainerLogs", ["logs:CreateLogStream", "logs:PutLogEvents"],
              [log_group_arn, f"{log_group_arn}:*"]),
    ])


def tls_only_statement(bucket_arn: str) -> Statement:
    return {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [bucket_arn, f"{bucket_arn}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def elb_log_delivery_statements(bucket_arn: str, prefix: str, region: str) -> list[Statement]:
    """Lets the load balancer write access logs under `prefix/AWSLogs/`."""
    target = f"{bucket_arn}/{prefix}/AWSLogs/*"
    statements: list[Statement] = [
        {
            "Sid": "ElbLogDeliveryService",
            "Effect": "Allow",
            "Principal": {"Service": "logdelivery.elasticloadbalancing.amazonaws.com"},
            "Action": "s3:PutObject",
            "Resource": target,
        }
    ]
    account = ELB_LOG_ACCOUNTS.get(region)
    if account is not None:
        statements.append(
            {
                "Sid": "ElbLogDeliveryAccount",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                "Action": "s3:PutObject",
                "Resource": target,
            }
        )
    return statements


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def wildcard_grants(doc: Document) -> list[Statement]:
    """Allow statements that grant a `*` action (any service) on `*` resources."""
    found = []
    for st in _as_list(doc.get("Statement", [])):
        if st.get("Effect") != "Allow":
            continue
        actions = _as_list(st.get("Action", []))
        resources = _as_list(st.get("Resource", []))
        if any(a == "*" or a.endswith(":*") for a in actions) and "*" in resources:
            found.append(st)
    return found


def ecr_lifecycle_policy(*, keep_tagged: int, untagged_days: int) -> Document:
    """Expire untagged layers quickly and keep the most recent tagged images for rollback."""
    if keep_tagged < 1 or untagged_days < 1:
        raise ValueError("keep_tagged and untagged_days must be at least 1")
    return {
        "rules": [
            {
                "rulePriority": 1,
                "description": f"expire untagged images after {untagged_days} days",
                "selection": {
                    "tagStatus": "untagged",
                    "countType": "sinceImagePushed",
                    "countUnit": "days",
                    "countNumber": untagged_days,
                },
                "action": {"type": "expire"},
            },
            {
                "rulePriority": 2,
                "description": f"keep the last {keep_tagged} tagged images",
                "selection": {
                    "tagStatus": "any",
                    "countType": "imageCountMoreThan",
                    "countNumber": keep_tagged,
                },
                "action": {"type": "expire"},
            },
        ]
    }


# Lambda needs these to attach the function to the VPC; they take no resource-level scoping.
ENI_ACTIONS = [
    "ec2:CreateNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSubnets",
    "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses",
    "ec2:UnassignPrivateIpAddresses",
]


# Receive/Delete/ChangeVisibility/GetAttributes for the event source mapping; SendMessage because the
# handler also relays the orders outbox to the same queue after each batch.
SQS_ACTIONS = [
    "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility",
    "sqs:SendMessage",
]


S3_ACTIONS = ["s3:PutObject", "s3:GetObject"]


def worker_policy_document(
    *,
    queue_arn: str,
    bucket_arn: str,
    secret_arn: str,
    log_group_arn: str,
    kms_key_arns: Sequence[str] = (),
) -> dict[str, Any]:
    """The execution role's permissions: one queue, one bucket prefix, one secret, one log group."""
    statements = [
        allow("AttachToVpc", ENI_ACTIONS, ["*"]),
        allow("ConsumeWorkQueue", SQS_ACTIONS, [queue_arn]),
        allow("WriteReceipts", S3_ACTIONS, [f"{bucket_arn}/receipts/*"]),
        allow("ReadDatabaseSecret", ["secretsmanager:GetSecretValue"], [secret_arn]),
        allow("WriteOwnLogs", ["logs:CreateLogStream", "logs:PutLogEvents"],
                  [log_group_arn, f"{log_group_arn}:*"]),
    ]
    if kms_key_arns:
        statements.append(allow("UseDataKeys", ["kms:Decrypt", "kms:GenerateDataKey"], list(kms_key_arns)))
    return document(statements)


def migration_policy_document(*, master_secret_arn: str, app_secret_arn: str, log_group_arn: str) -> dict[str, Any]:
    return document([
        allow("AttachToVpc", ENI_ACTIONS, ["*"]),
        allow("ReadDatabaseSecrets", ["secretsmanager:GetSecretValue"], [master_secret_arn, app_secret_arn]),
        allow("WriteOwnLogs", ["logs:CreateLogStream", "logs:PutLogEvents"],
                  [log_group_arn, f"{log_group_arn}:*"]),
    ])


def lambda_pull_policy(*, partition: str, region: str, account_id: str) -> dict[str, Any]:
    return document([{
        "Sid": "LambdaPullForThisAccount",
        "Effect": "Allow",
        "Principal": {"Service": "lambda.amazonaws.com"},
        "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
        "Condition": {"StringLike": {"aws:sourceArn": f"arn:{partition}:lambda:{region}:{account_id}:function:*"}},
    }])


def irsa_trust_document(*, provider_arn: str, issuer_url: str, namespace: str, service_account: str) -> dict[str, Any]:
    """Only tokens issued to this one service account, for STS, may assume the role."""
    host = issuer_url.removeprefix("https://")
    return document([{
        "Effect": "Allow",
        "Principal": {"Federated": provider_arn},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {
            f"{host}:sub": f"system:serviceaccount:{namespace}:{service_account}",
            f"{host}:aud": "sts.amazonaws.com",
        }},
    }])


DESCRIBE_ACTIONS = [
    "autoscaling:DescribeAutoScalingGroups", "autoscaling:DescribeAutoScalingInstances",
    "autoscaling:DescribeLaunchConfigurations", "autoscaling:DescribeScalingActivities", "autoscaling:DescribeTags",
    "ec2:DescribeImages", "ec2:DescribeInstanceTypes", "ec2:DescribeLaunchTemplateVersions",
    "ec2:GetInstanceTypesFromInstanceRequirements", "eks:DescribeNodegroup",
]


SCALE_ACTIONS = ["autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"]


def autoscaler_policy_document(cluster_name: str) -> dict[str, Any]:
    """Describe anything (these actions take no resource scoping); resize only this cluster's groups."""
    return document([
        allow("Discover", DESCRIBE_ACTIONS, ["*"]),
        {**allow("ScaleOwnNodeGroups", SCALE_ACTIONS, ["*"]),
         "Condition": {"StringEquals": {f"aws:ResourceTag/k8s.io/cluster-autoscaler/{cluster_name}": "owned"}}},
    ])


# The one algorithm the app signs with (RS256); the key policy refuses every other.
SIGNING_ALGORITHM = "RSASSA_PKCS1_V1_5_SHA_256"


def signing_key_policy(account_id: str, partition: str = "aws") -> dict[str, Any]:
    """The key policy: the account (and so IAM policies) administers and uses the key; nobody may sign
    with any other algorithm than RS256.

    Without the account statement IAM grants would not apply and the key could become unmanageable
    (https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html); the web tier's
    role gets kms:Sign and kms:GetPublicKey on this key alone through its own IAM policy.
    """
    return document([
        {
            "Sid": "AccountAdministersThroughIam",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:{partition}:iam::{account_id}:root"},
            "Action": "kms:*",
            "Resource": "*",
        },
        {
            # https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-signing-algorithm
            "Sid": "OnlyRs256Signatures",
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Action": "kms:Sign",
            "Resource": "*",
            "Condition": {"StringNotEquals": {"kms:SigningAlgorithm": SIGNING_ALGORITHM}},
        },
    ])
