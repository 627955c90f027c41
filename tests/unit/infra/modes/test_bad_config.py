"""A mode selected with missing or unsafe values stops in settings, before any resource, with one message."""

from __future__ import annotations

from typing import Any

import pytest

from infra.settings import ConfigError
from policies.gate.mockengine import ProgramError, run_program
from tests.unit.infra.conftest import ROOT

CASES: list[tuple[str, dict[str, Any], str]] = [
    ("dev", {"computeMode": "eks"},
     "stacks/Pulumi.dev.yaml: stateless-stack:eksNodeMinSize is required: computeMode eks needs eksNodeMinSize "
     "(a node count of at least 1)"),
    ("dev", {"computeMode": "eks", "eksNodeMinSize": 1},
     "stacks/Pulumi.dev.yaml: stateless-stack:eksNodeMaxSize is required: computeMode eks needs eksNodeMaxSize "
     "(a node count of at least 1)"),
    ("dev-eks", {"eksNodeMinSize": 3, "eksNodeMaxSize": 2},
     "stacks/Pulumi.dev-eks.yaml: stateless-stack:eksNodeMinSize must be ≤ eksNodeMaxSize (got 3 > 2)"),
    ("dev-eks", {"requireMultiAz": True, "natGatewayPerAz": True, "dbMultiAz": True, "cacheMultiAz": True,
                 "cacheAutomaticFailover": True, "cacheNumNodes": 2, "asgMinSize": 2, "asgDesiredCapacity": 2,
                 "k8sReplicas": 1},
     "stacks/Pulumi.dev-eks.yaml: stateless-stack:k8sReplicas must be ≥ 2 because requireMultiAz is true (got 1)"),
    ("dev-eks", {"k8sHpaMaxReplicas": 1},
     "stacks/Pulumi.dev-eks.yaml: stateless-stack:k8sHpaMaxReplicas must be ≥ the autoscaler's minimum (got 1 < 2)"),
    ("dev-eks", {"eksKubernetesVersion": "1.29"},
     "stacks/Pulumi.dev-eks.yaml: stateless-stack:eksKubernetesVersion must be 1.30 or newer: the app's preStop "
     "drain uses the sleep action (got 1.29)"),
    ("dev-eks", {"eksKubernetesVersion": "1.3"},
     "stacks/Pulumi.dev-eks.yaml: stateless-stack:eksKubernetesVersion must be 1.30 or newer: the app's preStop "
     "drain uses the sleep action (got 1.3; quote the version in the stack file, e.g. \"1.30\")"),
    ("dev-eks", {"eksPublicAccessCidrs": ["0.0.0.0/0"]},
     "stacks/Pulumi.dev-eks.yaml: stateless-stack:eksPublicAccessCidrs must list networks of /16 or narrower "
     "(got 0.0.0.0/0): name the deployers' addresses (CI runners, operators); a broad range opens the Kubernetes "
     "API to the internet"),
    ("dev-eks", {"eksPublicAccessCidrs": ["10.40.0.0/24"]},
     "stacks/Pulumi.dev-eks.yaml: stateless-stack:eksPublicAccessCidrs must list public networks (got 10.40.0.0/24): "
     "the public endpoint only sees public source addresses, and the VPC already reaches the private endpoint"),
    ("dev", {"ingressMode": "apigateway", "jwtIssuer": "stateless-stack"},
     "stacks/Pulumi.dev.yaml: stateless-stack:jwtIssuer must be an https URL when ingressMode is apigateway "
     "(got 'stateless-stack'): the JWT authorizer fetches <jwtIssuer>/.well-known/openid-configuration"),
    ("dev", {"ingressMode": "apigateway", "jwtIssuer": "http://dev.stateless.example.com"},
     "stacks/Pulumi.dev.yaml: stateless-stack:jwtIssuer must be an https URL when ingressMode is apigateway "
     "(got 'http://dev.stateless.example.com'): the JWT authorizer fetches "
     "<jwtIssuer>/.well-known/openid-configuration"),
    ("dev", {"ingressMode": "apigateway", "apiDomainName": "api.example.com"},
     "stacks/Pulumi.dev.yaml: stateless-stack:apiDomainName needs certificateArn or certificateDomain, an ACM "
     "certificate for that name in the stack's region"),
    ("staging", {"ingressMode": "apigateway"},
     "stacks/Pulumi.staging.yaml: stateless-stack:apiDomainName is required when ingressMode is apigateway and "
     "certificateArn is set: it is the API's domain and the name API Gateway verifies on the internal ALB's "
     "certificate"),
    ("dev", {"ingressMode": "gateway"},
     "stacks/Pulumi.dev.yaml: stateless-stack:ingressMode must be one of alb, apigateway (got 'gateway')"),
    ("dev", {"workerReservedConcurrency": -1},
     "stacks/Pulumi.dev.yaml: stateless-stack:workerReservedConcurrency must be ≥ 0 (got -1)"),
    ("dev", {"workerReservedConcurrency": 3},
     "stacks/Pulumi.dev.yaml: stateless-stack:workerMaxConcurrency must be ≤ workerReservedConcurrency (got 5 > 3): "
     "the event source would start invocations the reservation throttles, and throttled deliveries count as "
     "receives toward the dead-letter queue"),
    ("dev", {"workerMaxConcurrency": 1},
     "stacks/Pulumi.dev.yaml: stateless-stack:workerMaxConcurrency must be ≥ 2 (got 1)"),
    ("dev", {"workerTimeoutSeconds": 60},
     "stacks/Pulumi.dev.yaml: stateless-stack:queueVisibilityTimeoutSeconds must be ≥ 6 x workerTimeoutSeconds + "
     "workerBatchingWindowSeconds (got 180 < 6 x 60 + 0 = 360): a message must stay hidden while a slow or "
     "throttled invocation still holds it; raise queueVisibilityTimeoutSeconds or lower workerTimeoutSeconds"),
    ("dev-eks", {"workerBatchingWindowSeconds": 1},
     "stacks/Pulumi.dev-eks.yaml: stateless-stack:queueVisibilityTimeoutSeconds must be ≥ 6 x workerTimeoutSeconds + "
     "workerBatchingWindowSeconds (got 180 < 6 x 30 + 1 = 181): a message must stay hidden while a slow or "
     "throttled invocation still holds it; raise queueVisibilityTimeoutSeconds or lower workerTimeoutSeconds"),
    ("dev", {"workerBatchSize": 100, "workerBatchingWindowSeconds": 0, "queueVisibilityTimeoutSeconds": 400},
     "stacks/Pulumi.dev.yaml: stateless-stack:workerBatchingWindowSeconds must be ≥ 1 when workerBatchSize is above 10 "
     "(got workerBatchSize 100)"),
    ("dev", {"workerLayerArn": "arn:aws:lambda:us-east-1:123456789012:layer:deps:1"},
     "stacks/Pulumi.dev.yaml: stateless-stack:workerLayerArn is no longer used: the worker runs the app image as a "
     "container-image function (one image for web and worker, built by `pulumi up`); remove the key from the "
     "stack file"),
    ("staging", {"certificateDomain": "", "certificateArn":
                 "arn:aws:acm:us-east-1:111122223333:certificate/2b7c1e4d-0a5f-4c3e-9d81-5f0e6a7b8c9d"},
     "stacks/Pulumi.staging.yaml: stateless-stack:certificateArn names AWS's documentation account 111122223333 "
     "(arn:aws:acm:us-east-1:111122223333:certificate/2b7c1e4d-0a5f-4c3e-9d81-5f0e6a7b8c9d): it is an example, not a "
     "resource of yours; set your own value or leave the key unset"),
    ("prod", {"alarmTopicArn": "arn:aws:sns:us-east-1:111122223333:stateless-prod-oncall"},
     "stacks/Pulumi.prod.yaml: stateless-stack:alarmTopicArn names AWS's documentation account 111122223333 "
     "(arn:aws:sns:us-east-1:111122223333:stateless-prod-oncall): it is an example, not a resource of yours; set "
     "your own value or leave the key unset"),
    ("dev-eks", {"eksAdminPrincipalArns": ["arn:aws:iam::111122223333:role/ci"]},
     "stacks/Pulumi.dev-eks.yaml: stateless-stack:eksAdminPrincipalArns names AWS's documentation account "
     "111122223333 (arn:aws:iam::111122223333:role/ci): it is an example, not a resource of yours; set your own "
     "value or leave the key unset"),
    ("staging", {"certificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/abc"},
     "stacks/Pulumi.staging.yaml: stateless-stack:certificateDomain and certificateArn name the certificate twice: "
     "set only one"),
    ("dev-eks", {"eksPublicAccessCidrs": []},
     "stacks/Pulumi.dev-eks.yaml: stateless-stack:eksPublicAccessCidrs is empty, so the Kubernetes API endpoint is "
     "private-only and `pulumi up` from outside the VPC cannot create the app's objects: list the deployers' public "
     "networks (e.g. pulumi config set --path 'eksPublicAccessCidrs[0]' <your address>/32), or set "
     "eksDeployFromVpc: true if pulumi up runs inside the VPC"),
    ("dev-eks", {"eksDeployerPrincipalArn": ""},
     "stacks/Pulumi.dev-eks.yaml: stateless-stack:eksDeployerPrincipalArn is required when computeMode is eks: name "
     "the IAM role the pipeline deploys this stack with (e.g. role/stateless-stack-deploy), which gets the "
     "cluster-admin access entry; it is never taken from whoever runs `pulumi up`"),
    ("dev-eks", {"eksAdminPrincipalArns": ["arn:aws:iam::210987654321:role/stateless-stack-deploy-dev-eks"]},
     "stacks/Pulumi.dev-eks.yaml: stateless-stack:eksDeployerPrincipalArn is also listed in eksAdminPrincipalArns "
     "(arn:aws:iam::210987654321:role/stateless-stack-deploy-dev-eks): one principal has one access entry, and a "
     "second one fails with CreateAccessEntry 409 ResourceInUseException; remove it from the list"),
    ("dev-eks", {"eksDeployerPrincipalArn": "arn:aws:sts::210987654321:assumed-role/deploy/gh-run-1"},
     "stacks/Pulumi.dev-eks.yaml: stateless-stack:eksDeployerPrincipalArn must be an IAM role or user ARN, or "
     "role/<name> in the stack's account (got 'arn:aws:sts::210987654321:assumed-role/deploy/gh-run-1'); an "
     "assumed-role session ARN names one session, not the role"),
    ("dev-eks", {"eksKubernetesVersion": "1.37"},
     "stacks/Pulumi.dev-eks.yaml: stateless-stack:eksKubernetesVersion cannot be used: no Cluster Autoscaler release "
     "is pinned for Kubernetes 1.37 (pinned: 1.32, 1.33, 1.34, 1.35, 1.36); add its newest patch to "
     "infra/lib/eks_versions.py"),
    ("dev-eks", {"eksNodeMinSize": 1},
     "stacks/Pulumi.dev-eks.yaml: stateless-stack:eksNodeMinSize must be ≥ availabilityZoneCount (got 1 < 2): there "
     "is one node group per availability zone and each keeps at least one node"),
    ("dev", {"workerMode": "container"},
     "stacks/Pulumi.dev.yaml: stateless-stack:workerMode must be one of lambda (got 'container')"),
]


@pytest.mark.parametrize(("stack", "overrides", "message"), CASES, ids=[str(c[1]) for c in CASES])
def test_bad_mode_settings_stop_the_program_with_one_message(
    stack: str, overrides: dict[str, Any], message: str
) -> None:
    with pytest.raises(ProgramError) as info:
        run_program(ROOT, stack, config_overrides=overrides)
    assert isinstance(info.value.__cause__, ConfigError)
    assert str(info.value) == message


def test_the_same_values_are_accepted_once_fixed() -> None:
    run = run_program(ROOT, "dev", config_overrides={"workerTimeoutSeconds": 60, "queueVisibilityTimeoutSeconds": 365,
                                                     "workerBatchSize": 100, "workerBatchingWindowSeconds": 5})
    [fn] = [f for f in run.of_type("aws:lambda/function:Function") if f.inputs["imageConfig"]["commands"] ==
            ["app.worker.handler"]]
    assert fn.inputs["timeout"] == 60
    mapping = run.one("aws:lambda/eventSourceMapping:EventSourceMapping").inputs
    assert (mapping["batchSize"], mapping["maximumBatchingWindowInSeconds"]) == (100, 5)


def test_shipped_stack_files_name_no_documentation_account() -> None:
    for path in (ROOT / "stacks").glob("Pulumi.*.yaml"):
        assert "111122223333" not in path.read_text(), path.name
