"""ingressMode apigateway: an HTTP API with a JWT authorizer is the only way in, to an internal ALB."""

from __future__ import annotations

import json

from policies.gate.mockengine import ProgramRun
from tests.unit.infra.conftest import certificate_of, config_of, name_of, refs, subnet_tier

ROUTE = "aws:apigatewayv2/route:Route"
AUTHENTICATED = {
    "GET /cart", "PUT /cart/items/{sku}", "DELETE /cart/items/{sku}", "POST /orders", "GET /orders/{id}",
    "POST /auth/password", "POST /auth/logout",
}
PUBLIC = {
    "POST /auth/register", "POST /auth/login", "GET /.well-known/jwks.json", "GET /.well-known/openid-configuration",
    "GET /healthz",
}
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"


def test_http_api_with_a_jwt_authorizer_from_the_stack_issuer_and_audience(api_run: ProgramRun) -> None:
    cfg = config_of(name_of(api_run))
    api = api_run.one("aws:apigatewayv2/api:Api")
    assert api.inputs["protocolType"] == "HTTP"
    authorizer = api_run.one("aws:apigatewayv2/authorizer:Authorizer")
    assert authorizer.inputs["authorizerType"] == "JWT"
    assert authorizer.inputs["identitySources"] == ["$request.header.Authorization"]
    assert authorizer.inputs["jwtConfiguration"] == {"issuer": cfg["jwtIssuer"], "audiences": [cfg["jwtAudience"]]}
    assert cfg["jwtIssuer"].startswith("https://")
    assert refs(authorizer, "apiId") == {api.urn}


def test_app_routes_need_the_jwt_and_only_auth_and_health_routes_are_public(api_run: ProgramRun) -> None:
    authorizer = api_run.one("aws:apigatewayv2/authorizer:Authorizer")
    routes = {r.inputs["routeKey"]: r for r in api_run.of_type(ROUTE)}
    assert set(routes) == AUTHENTICATED | PUBLIC  # no $default: anything else never reaches the VPC
    for key in AUTHENTICATED:
        assert routes[key].inputs["authorizationType"] == "JWT", key
        assert refs(routes[key], "authorizerId") == {authorizer.urn}, key
    for key in PUBLIC:
        assert routes[key].inputs["authorizationType"] == "NONE", key
        assert not routes[key].inputs.get("authorizerId"), key
    integration = api_run.one("aws:apigatewayv2/integration:Integration")
    assert all(refs(r, "target") == {integration.urn} for r in routes.values())


def test_the_app_trusts_the_header_the_integration_sets_to_the_client_address(api_run: ProgramRun) -> None:
    # Behind the VPC link every request's last X-Forwarded-For hop is the link: the app's abuse limits
    # must key on the address API Gateway saw, which the integration writes into one header.
    integration = api_run.one("aws:apigatewayv2/integration:Integration")
    [(key, value)] = integration.inputs["requestParameters"].items()
    assert key.startswith("overwrite:header.") and value == "$context.identity.sourceIp"
    header = key.removeprefix("overwrite:header.")
    env = json.loads(api_run.one("aws:ssm/parameter:Parameter").inputs["value"])
    assert env["APP_CLIENT_ADDRESS_HEADER"] == header


def test_backend_is_the_internal_alb_listener_through_the_vpc_link(api_run: ProgramRun) -> None:
    link = api_run.one("aws:apigatewayv2/vpcLink:VpcLink")
    assert {subnet_tier(api_run)[s] for s in refs(link, "subnetIds")} == {"app"}
    integration = api_run.one("aws:apigatewayv2/integration:Integration")
    assert integration.inputs["connectionType"] == "VPC_LINK"
    assert integration.inputs["integrationType"] == "HTTP_PROXY"
    assert refs(integration, "connectionId") == {link.urn}
    listeners = {r.urn: r for r in api_run.of_type("aws:lb/listener:Listener")}
    [listener_urn] = refs(integration, "integrationUri")
    listener = listeners[listener_urn]
    assert listener.inputs["defaultActions"][0]["type"] == "forward"
    assert integration.inputs["integrationUri"] == listener.outputs["arn"]


def test_alb_is_internal_and_not_reachable_from_the_internet(api_run: ProgramRun) -> None:
    env = config_of(name_of(api_run))["environment"]
    alb = api_run.one("aws:lb/loadBalancer:LoadBalancer")
    assert alb.inputs["internal"] is True
    assert {subnet_tier(api_run)[s] for s in refs(alb, "subnets")} == {"app"}
    alb_sg = api_run.one("aws:ec2/securityGroup:SecurityGroup", f"{env}-sg-alb")
    link_sg = next(sg for sg in api_run.of_type("aws:ec2/securityGroup:SecurityGroup")
                   if sg.urn in refs(api_run.one("aws:apigatewayv2/vpcLink:VpcLink"), "securityGroupIds"))
    into_alb = [r for r in api_run.of_type(INGRESS) if refs(r, "securityGroupId") == {alb_sg.urn}]
    assert [(refs(r, "referencedSecurityGroupId"), r.inputs.get("cidrIpv4")) for r in into_alb] == [
        ({link_sg.urn}, None)
    ]
    assert not any(r.inputs.get("cidrIpv4") in ("0.0.0.0/0",) or r.inputs.get("cidrIpv6") == "::/0"
                   for r in api_run.of_type(INGRESS))


def test_stage_logs_access_and_throttles_from_config(api_run: ProgramRun) -> None:
    cfg = config_of(name_of(api_run))
    stage = api_run.one("aws:apigatewayv2/stage:Stage")
    assert stage.inputs["name"] == "$default" and stage.inputs["autoDeploy"] is True
    assert stage.inputs["accessLogSettings"]["format"]
    routes = stage.inputs["defaultRouteSettings"]
    assert routes["throttlingBurstLimit"] == cfg.get("apiThrottlingBurstLimit", 200)
    assert routes["throttlingRateLimit"] == cfg.get("apiThrottlingRateLimit", 100)


def test_the_backend_hop_uses_the_stack_certificate_when_there_is_one(api_run: ProgramRun) -> None:
    cfg = config_of(name_of(api_run))
    integration = api_run.one("aws:apigatewayv2/integration:Integration")
    listener = next(r for r in api_run.of_type("aws:lb/listener:Listener")
                    if r.urn in refs(integration, "integrationUri"))
    env = cfg["environment"]
    alb_sg = api_run.one("aws:ec2/securityGroup:SecurityGroup", f"{env}-sg-alb")
    [from_link] = [r for r in api_run.of_type(INGRESS) if refs(r, "securityGroupId") == {alb_sg.urn}]
    certificate = certificate_of(name_of(api_run))
    if certificate:
        assert (listener.inputs["protocol"], listener.inputs["port"]) == ("HTTPS", 443)
        assert listener.inputs["certificateArn"] == certificate
        assert integration.inputs["tlsConfig"] == {"serverNameToVerify": cfg["apiDomainName"]}
    else:
        assert (listener.inputs["protocol"], listener.inputs["port"]) == ("HTTP", 80)
        assert not integration.inputs.get("tlsConfig")
    assert from_link.inputs["fromPort"] == from_link.inputs["toPort"] == listener.inputs["port"]


def test_app_url_is_the_api_custom_domain_or_endpoint(api_run: ProgramRun) -> None:
    cfg = config_of(name_of(api_run))
    domains = api_run.of_type("aws:apigatewayv2/domainName:DomainName")
    if cfg.get("apiDomainName"):
        [domain] = domains
        assert domain.inputs["domainName"] == cfg["apiDomainName"]
        assert domain.inputs["domainNameConfiguration"] == {
            "certificateArn": certificate_of(name_of(api_run)), "endpointType": "REGIONAL",
            "securityPolicy": "TLS_1_2",
        }
        # Only the domain answers: the execute-api URL would bypass it.
        assert api_run.one("aws:apigatewayv2/api:Api").inputs["disableExecuteApiEndpoint"] is True
        mapping = api_run.one("aws:apigatewayv2/apiMapping:ApiMapping")
        assert refs(mapping, "domainName") == {domain.urn}
        assert api_run.outputs["appUrl"] == f"https://{cfg['apiDomainName']}"
        assert "apiDomainTarget" in api_run.outputs
    else:
        assert domains == []
        assert api_run.outputs["appUrl"] == api_run.outputs["apiEndpoint"]
        assert api_run.one("aws:apigatewayv2/api:Api").inputs["disableExecuteApiEndpoint"] is False
    assert api_run.outputs["apiEndpoint"].startswith("https://")
    assert api_run.outputs["loadBalancerUrl"] != api_run.outputs["appUrl"]


def test_alb_ingress_mode_has_no_api_and_a_public_alb(alb_run: ProgramRun) -> None:
    assert [r.type for r in alb_run.resources if r.type.startswith("aws:apigatewayv2/")] == []
    alb = alb_run.one("aws:lb/loadBalancer:LoadBalancer")
    assert alb.inputs["internal"] is False
    assert {subnet_tier(alb_run)[s] for s in refs(alb, "subnets")} == {"public"}
    assert "apiEndpoint" not in alb_run.outputs
    assert alb_run.outputs["appUrl"] == alb_run.outputs["loadBalancerUrl"]
