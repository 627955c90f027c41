"""The API gateway under mocks: JWT authorizer, which routes it guards, the VPC link, logs, throttling."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from infra.components.api import (
    AUTHENTICATED_ROUTES,
    NOT_ROUTED,
    PUBLIC_ROUTES,
    ApiGateway,
    ApiGatewayArgs,
)
from infra.config import IngressConfig
from tests.unit.infra.conftest import (
    ACCOUNT,
    REGION,
    Run,
    answered,
    plain,
    policy_findings,
    resolve,
    run_component,
)

LISTENER_ARN = (
    f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:listener/app/prod-internal/50dc6c495c0c9188/f2f7dc8efc522ab2"
)
ISSUER = "https://api.example.com"


def make_args(**overrides: Any) -> ApiGatewayArgs:
    base: dict[str, Any] = dict(
        vpc_id="vpc-0abc",
        subnet_ids=["subnet-app-a", "subnet-app-b"],
        listener_arn=LISTENER_ARN,
        alb_security_group_id="sg-alb",
        issuer=ISSUER,
        audiences=["stateless-app"],
        tls_server_name="internal.example.com",
        config=IngressConfig(mode="apigateway", throttling_burst_limit=50, throttling_rate_limit=25),
        access_log_retention_days=90,
    )
    base.update(overrides)
    return ApiGatewayArgs(**base)


@pytest.fixture(scope="module")
def api() -> Run:
    return run_component(lambda: ApiGateway("prod-api", make_args()))


def routes(run: Run) -> dict[str, dict[str, Any]]:
    return {r.inputs["routeKey"]: plain(r.inputs) for r in run.of_type("aws:apigatewayv2/route:Route")}


def test_http_api(api: Run) -> None:
    inputs = plain(api.one("aws:apigatewayv2/api:Api").inputs)
    assert inputs["protocolType"] == "HTTP"


def test_authorizer_is_jwt_with_issuer_and_audience_from_args(api: Run) -> None:
    auth = plain(api.one("aws:apigatewayv2/authorizer:Authorizer").inputs)
    assert auth["authorizerType"] == "JWT"
    assert auth["identitySources"] == ["$request.header.Authorization"]
    assert auth["jwtConfiguration"] == {"issuer": ISSUER, "audiences": ["stateless-app"]}
    assert auth["apiId"] == resolve(api.component.api_id)


def test_authenticated_routes_require_the_jwt_authorizer(api: Run) -> None:
    by_key = routes(api)
    authorizer_id = resolve(api.component.authorizer_id)
    assert set(AUTHENTICATED_ROUTES) == {
        "GET /cart", "PUT /cart/items/{sku}", "DELETE /cart/items/{sku}", "POST /orders", "GET /orders/{id}",
        "POST /auth/password", "POST /auth/logout",
    }
    for key in AUTHENTICATED_ROUTES:
        assert by_key[key]["authorizationType"] == "JWT", key
        assert by_key[key]["authorizerId"] == authorizer_id, key


def test_public_routes_take_no_authorizer(api: Run) -> None:
    by_key = routes(api)
    assert set(PUBLIC_ROUTES) == {
        "POST /auth/register", "POST /auth/login", "GET /.well-known/jwks.json",
        "GET /.well-known/openid-configuration", "GET /healthz",
    }
    for key in PUBLIC_ROUTES:
        assert by_key[key]["authorizationType"] == "NONE", key
        assert "authorizerId" not in by_key[key], key


def test_nothing_else_is_routed(api: Run) -> None:
    assert set(routes(api)) == set(AUTHENTICATED_ROUTES) | set(PUBLIC_ROUTES)
    assert "$default" not in routes(api)
    assert not any("/metrics" in key for key in routes(api))
    # Readiness belongs to the load balancer's health check, not to the internet.
    assert not any("/readyz" in key for key in routes(api))
    assert set(NOT_ROUTED) == {"GET /readyz", "GET /metrics"} and not set(NOT_ROUTED) & set(routes(api))


def test_every_route_targets_the_vpc_link_integration_to_the_internal_listener(api: Run) -> None:
    integration = api.one("aws:apigatewayv2/integration:Integration")
    link = plain(api.one("aws:apigatewayv2/vpcLink:VpcLink").inputs)
    i = plain(integration.inputs)
    assert i["integrationType"] == "HTTP_PROXY"
    assert i["connectionType"] == "VPC_LINK"
    assert re.fullmatch(r"vpclink-[0-9a-f]{6}", i["connectionId"])  # the link's id, as the mock issues it
    assert i["integrationUri"] == LISTENER_ARN
    assert i["payloadFormatVersion"] == "1.0"
    assert i["tlsConfig"] == {"serverNameToVerify": "internal.example.com"}
    # The client's address, overwritten whatever the client sent under that name (issue: the VPC link
    # was the only address the app's throttle ever saw).
    assert i["requestParameters"] == {"overwrite:header.x-client-source-ip": "$context.identity.sourceIp"}
    assert link["subnetIds"] == ["subnet-app-a", "subnet-app-b"]
    targets = {r["target"] for r in routes(api).values()}
    assert len(targets) == 1 and re.fullmatch(r"integrations/integ-[0-9a-f]{6}", targets.pop())


def test_vpc_link_group_reaches_only_the_alb_and_the_alb_admits_it(api: Run) -> None:
    link_sg = resolve(api.component.vpc_link_security_group_id)
    egress = [plain(r.inputs) for r in api.of_type("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule")]
    ingress = [plain(r.inputs) for r in api.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")]
    assert [(e["securityGroupId"], e["referencedSecurityGroupId"], e["fromPort"]) for e in egress] == [
        (link_sg, "sg-alb", 443)]
    assert [(i["securityGroupId"], i["referencedSecurityGroupId"], i["fromPort"]) for i in ingress] == [
        ("sg-alb", link_sg, 443)]
    assert plain(api.one("aws:apigatewayv2/vpcLink:VpcLink").inputs)["securityGroupIds"] == [link_sg]


def test_default_stage_auto_deploys_with_json_access_logs_and_throttling(api: Run) -> None:
    stage = plain(api.one("aws:apigatewayv2/stage:Stage").inputs)
    group = api.one("aws:cloudwatch/logGroup:LogGroup")
    logs = plain(group.inputs)
    assert stage["name"] == "$default"
    assert stage["autoDeploy"] is True
    assert stage["accessLogSettings"]["destinationArn"] == answered(group.type, group.name, group.inputs)["arn"]
    fmt = json.loads(stage["accessLogSettings"]["format"])
    assert fmt["requestId"] == "$context.requestId" and fmt["status"] == "$context.status"
    assert fmt["authorizerError"] == "$context.authorizer.error"
    assert stage["defaultRouteSettings"]["throttlingBurstLimit"] == 50
    assert stage["defaultRouteSettings"]["throttlingRateLimit"] == 25
    assert logs["retentionInDays"] == 90
    assert "name" not in logs and logs["namePrefix"].startswith("/aws/apigateway/")


def test_stateless_guard_rules_find_nothing(api: Run) -> None:
    assert policy_findings(api.resources) == []


def test_plain_http_listener_needs_no_tls_config() -> None:
    run = run_component(lambda: ApiGateway("a", make_args(tls_server_name=None, listener_port=80)))
    i = plain(run.one("aws:apigatewayv2/integration:Integration").inputs)
    assert "tlsConfig" not in i
    egress = plain(run.one("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule").inputs)
    assert (egress["fromPort"], egress["toPort"]) == (80, 80)


def test_custom_domain_is_regional_tls12_and_mapped_to_the_stage() -> None:
    cert = f"arn:aws:acm:{REGION}:{ACCOUNT}:certificate/8d3f6a2e-71c4-4b9a-a0e5-3c2d1b0f9e8a"
    run = run_component(lambda: ApiGateway("d", make_args(
        domain_name="api.example.com", certificate_arn=cert,
    )))
    domain = plain(run.one("aws:apigatewayv2/domainName:DomainName").inputs)
    assert domain["domainName"] == "api.example.com"
    assert domain["domainNameConfiguration"] == {
        "certificateArn": cert, "endpointType": "REGIONAL", "securityPolicy": "TLS_1_2"}
    mapping = plain(run.one("aws:apigatewayv2/apiMapping:ApiMapping").inputs)
    assert mapping["apiId"] == resolve(run.component.api_id)
    # Disabled as soon as the domain exists, without being asked: the execute-api URL would bypass the domain.
    assert plain(run.one("aws:apigatewayv2/api:Api").inputs)["disableExecuteApiEndpoint"] is True


def test_without_a_domain_no_domain_resources(api: Run) -> None:
    assert plain(api.one("aws:apigatewayv2/api:Api").inputs)["disableExecuteApiEndpoint"] is False
    assert api.of_type("aws:apigatewayv2/domainName:DomainName") == []
    assert api.of_type("aws:apigatewayv2/apiMapping:ApiMapping") == []


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"issuer": None}, "the JWT authorizer needs an issuer URL"),
        ({"issuer": ""}, "the JWT authorizer needs an issuer URL"),
        ({"issuer": "http://api.example.com"}, "must be an https URL"),
        ({"issuer": "api.example.com"}, "must be an https URL"),
        ({"issuer": "https://api.example.com/?x=1"}, "must not carry a query"),
        ({"audiences": []}, "at least one non-empty audience"),
        ({"audiences": "stateless-app"}, "not one string"),
        ({"listener_port": 0}, "listener port 0 is out of range"),
        ({"listener_port": 443, "tls_server_name": None}, "an HTTPS listener (port 443) needs tls_server_name"),
        ({"integration_timeout_ms": 60000}, "integration timeout must be 50..30000 ms"),
        ({"access_log_retention_days": 8}, "not a CloudWatch value"),
        ({"domain_name": "api.example.com"}, "needs both domain_name and certificate_arn"),
        ({"domain_name": "API.example.com", "certificate_arn": f"arn:aws:acm:{REGION}:{ACCOUNT}:certificate/abc"},
         "not a lowercase DNS host name"),
        ({"domain_name": "api.example.com", "certificate_arn": "arn:aws:iam::123:server-certificate/x"},
         "is not an ACM certificate ARN"),
        ({"disable_execute_api_endpoint": True}, "leaves the API unreachable"),
    ],
)
def test_bad_args_fail_with_a_clear_message(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        make_args(**overrides)


def test_negative_throttling_is_refused() -> None:
    with pytest.raises(ValueError, match="apiThrottlingBurstLimit must be ≥ 0"):
        IngressConfig(throttling_burst_limit=-1)
    with pytest.raises(ValueError, match="apiThrottlingRateLimit must be ≥ 0"):
        IngressConfig(throttling_rate_limit=-1)
