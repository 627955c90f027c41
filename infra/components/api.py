"""API Gateway HTTP API in front of the private ALB, with tokens checked at the edge.

Creates, under one `stateless:api:ApiGateway` component:
- a security group for the VPC link (egress to the internal ALB only) and the matching ingress rule on
  the ALB's security group,
- a VPC link in the private-app subnets and one HTTP_PROXY integration to the internal ALB listener,
  which overwrites `CLIENT_ADDRESS_HEADER` with the client's address (the app's abuse limits key on it),
- the HTTP API and a JWT authorizer (issuer + audience; API Gateway fetches the issuer's discovery
  document and JWKS, so the issuer must be publicly reachable over HTTPS),
- one route per app endpoint: the cart, order, password-change and sign-out routes require the JWT
  authorizer; registration,
  login, the JWKS/discovery documents and the health checks are public. Anything else gets 404 from the
  gateway and never reaches the backend (e.g. /metrics),
- the `$default` stage (auto deploy) with JSON access logs to its own log group and route throttling,
- with a custom domain: the regional domain name (TLS 1.2) and its mapping to the stage; point DNS at
  `domain_target` (the issuer's host is usually this domain, see infra/MODES.md).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import pulumi
import pulumi_aws as aws

from infra.components.security import flow_in, flow_out
from infra.config import IngressConfig, LoggingConfig
from infra.lib import limits

AUTHENTICATED_ROUTES: tuple[str, ...] = (
    "GET /cart",
    "PUT /cart/items/{sku}",
    "DELETE /cart/items/{sku}",
    "POST /orders",
    "GET /orders/{id}",
    "POST /auth/password",
    "POST /auth/logout",
)
PUBLIC_ROUTES: tuple[str, ...] = (
    "POST /auth/register",
    "POST /auth/login",
    "GET /.well-known/jwks.json",
    "GET /.well-known/openid-configuration",
    "GET /healthz",
)
# The header the integration overwrites with the client's address, so the app's abuse limits count the
# client and not the VPC link. HTTP APIs do not put the client in X-Forwarded-For for a private
# integration (and X-Forwarded-* headers are reserved, so a mapping cannot set them); the client is
# `$context.identity.sourceIp`, and a request parameter mapping can write a context variable into any
# unreserved header: https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-parameter-mapping.html
# ("overwrite:header.<name>", "$context.<variable>", "Reserved headers"). `overwrite` replaces whatever
# the client sent under that name, and only the VPC link reaches the internal ALB (its security group),
# so the app can trust the header: infra sets APP_CLIENT_ADDRESS_HEADER to it in this mode.
CLIENT_ADDRESS_HEADER = "x-client-source-ip"
CLIENT_ADDRESS_MAPPING = {f"overwrite:header.{CLIENT_ADDRESS_HEADER}": "$context.identity.sourceIp"}

# Readiness is the load balancer's business (it checks the targets directly); through the API it would only
# tell the internet which replica is draining.
NOT_ROUTED: tuple[str, ...] = ("GET /readyz", "GET /metrics")

ACCESS_LOG_FORMAT = json.dumps({
    "requestId": "$context.requestId",
    "ip": "$context.identity.sourceIp",
    "requestTime": "$context.requestTime",
    "httpMethod": "$context.httpMethod",
    "routeKey": "$context.routeKey",
    "path": "$context.path",
    "status": "$context.status",
    "protocol": "$context.protocol",
    "responseLength": "$context.responseLength",
    "integrationStatus": "$context.integrationStatus",
    "integrationLatency": "$context.integrationLatency",
    "integrationError": "$context.integrationErrorMessage",
    "authorizerError": "$context.authorizer.error",
    "subject": "$context.authorizer.claims.sub",
})

_HOSTNAME = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


def _route_role(route_key: str) -> str:
    """A stable resource name for a route key: 'PUT /cart/items/{sku}' -> 'put-cart-items-sku'."""
    return re.sub(r"[^a-z0-9]+", "-", route_key.lower()).strip("-")


@dataclass(frozen=True, kw_only=True)
class ApiGatewayArgs:
    subnet_ids: pulumi.Input[Sequence[pulumi.Input[str]]]
    """private-app subnets the VPC link places its interfaces in"""
    vpc_id: pulumi.Input[str]
    listener_arn: pulumi.Input[str]
    """listener of the internal (not internet-facing) ALB"""
    alb_security_group_id: pulumi.Input[str]
    issuer: str | None = None
    """the JWT issuer, an https URL whose /.well-known/openid-configuration API Gateway can fetch"""
    audiences: Sequence[str] = ()
    listener_port: int = 443
    tls_server_name: str | None = None
    """host name on the listener's certificate, verified by API Gateway when the listener is HTTPS"""
    config: IngressConfig = field(default_factory=IngressConfig)
    """the stage's throttling (the stack's apiThrottling* keys)"""
    access_log_retention_days: int = LoggingConfig().retention_days
    log_kms_key_arn: pulumi.Input[str] | None = None
    disable_execute_api_endpoint: bool = False
    """also forced on whenever a custom domain fronts the API, so that only the domain is reachable (the
    execute-api URL would bypass anything attached to the domain)"""
    integration_timeout_ms: int = 29000
    domain_name: str | None = None
    """custom domain for the API (e.g. the issuer's host); needs certificate_arn in the same region"""
    certificate_arn: pulumi.Input[str] | None = None
    tags: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.issuer:
            raise ValueError("the JWT authorizer needs an issuer URL (the https address serving "
                             "/.well-known/openid-configuration and /.well-known/jwks.json)")
        parts = urlsplit(self.issuer)
        if parts.scheme != "https" or not parts.hostname:
            raise ValueError(f"JWT issuer {self.issuer!r} must be an https URL; API Gateway only fetches keys "
                             "over HTTPS")
        if parts.query or parts.fragment:
            raise ValueError(f"JWT issuer {self.issuer!r} must not carry a query or fragment")
        if isinstance(self.audiences, str):
            raise ValueError("audiences must be a list of audience values, not one string")
        if not self.audiences or not all(isinstance(a, str) and a for a in self.audiences):
            raise ValueError("the JWT authorizer needs at least one non-empty audience")
        if not 1 <= self.listener_port <= 65535:
            raise ValueError(f"listener port {self.listener_port} is out of range")
        if self.listener_port == 443 and not self.tls_server_name:
            # Without a TLS config a private integration speaks plain HTTP, which an HTTPS listener refuses.
            raise ValueError("an HTTPS listener (port 443) needs tls_server_name, the name its certificate covers: "
                             "without it API Gateway sends plain HTTP through the VPC link")
        if not 50 <= self.integration_timeout_ms <= 30000:
            raise ValueError(f"integration timeout must be 50..30000 ms, got {self.integration_timeout_ms}")
        if (self.domain_name is None) != (self.certificate_arn is None):
            raise ValueError("a custom domain needs both domain_name and certificate_arn (an ACM certificate "
                             "for that name in the API's region)")
        if self.domain_name is not None and not _HOSTNAME.match(self.domain_name):
            raise ValueError(f"domain name {self.domain_name!r} is not a lowercase DNS host name")
        if isinstance(self.certificate_arn, str) and not limits.ACM_CERTIFICATE_ARN.match(self.certificate_arn):
            raise ValueError(f"certificate_arn {self.certificate_arn!r} is not an ACM certificate ARN")
        if self.disable_execute_api_endpoint and self.domain_name is None:
            raise ValueError("disabling the execute-api endpoint without a custom domain leaves the API unreachable")
        limits.check_log_retention(self.access_log_retention_days, "access log retention")


class ApiGateway(pulumi.ComponentResource):
    api_id: pulumi.Output[str]
    api_endpoint: pulumi.Output[str]
    stage_url: pulumi.Output[str]
    authorizer_id: pulumi.Output[str]
    vpc_link_security_group_id: pulumi.Output[str]
    domain_target: pulumi.Output[str | None]
    domain_zone_id: pulumi.Output[str | None]
    """the custom domain's regional hosted zone, for an alias record"""

    def __init__(self, name: str, args: ApiGatewayArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("stateless:api:ApiGateway", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = {"Component": "api", **args.tags}
        v2 = aws.apigatewayv2

        link_sg = aws.ec2.SecurityGroup(
            f"{name}-vpclink-sg",
            aws.ec2.SecurityGroupArgs(vpc_id=args.vpc_id, description="API Gateway VPC link to the internal ALB",
                                      tags={**tags, "Name": f"{name}-vpclink"}),
            opts=child,
        )
        flow_out(f"{name}-vpclink-egress", link_sg.id, args.listener_port, target=args.alb_security_group_id,
                 description="to the internal ALB listener", opts=child)
        # The ALB exists before the API, so the API adds the ALB's permission for its own link.
        flow_in(f"{name}-alb-ingress", args.alb_security_group_id, args.listener_port, source=link_sg.id,
                description="from the API Gateway VPC link", opts=child)

        vpc_link = v2.VpcLink(
            f"{name}-vpclink",
            v2.VpcLinkArgs(name=f"{name}-vpclink", subnet_ids=args.subnet_ids, security_group_ids=[link_sg.id],
                           tags=tags),
            opts=child,
        )

        api = v2.Api(
            f"{name}-api",
            v2.ApiArgs(
                name=name,
                protocol_type="HTTP",
                description="Stateless reference app behind a JWT authorizer",
                # https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-disable-default-endpoint.html
                disable_execute_api_endpoint=args.disable_execute_api_endpoint or args.domain_name is not None,
                tags=tags,
            ),
            opts=child,
        )

        authorizer = v2.Authorizer(
            f"{name}-jwt",
            v2.AuthorizerArgs(
                api_id=api.id,
                name=f"{name}-jwt",
                authorizer_type="JWT",
                identity_sources=["$request.header.Authorization"],
                jwt_configuration=v2.AuthorizerJwtConfigurationArgs(issuer=args.issuer,
                                                                    audiences=list(args.audiences)),
            ),
            opts=child,
        )

        integration = v2.Integration(
            f"{name}-backend",
            v2.IntegrationArgs(
                api_id=api.id,
                description="internal ALB through the VPC link",
                integration_type="HTTP_PROXY",
                integration_method="ANY",
                integration_uri=args.listener_arn,
                connection_type="VPC_LINK",
                connection_id=vpc_link.id,
                # Private integrations of HTTP APIs only speak payload format 1.0.
                payload_format_version="1.0",
                timeout_milliseconds=args.integration_timeout_ms,
                request_parameters=CLIENT_ADDRESS_MAPPING,
                tls_config=(v2.IntegrationTlsConfigArgs(server_name_to_verify=args.tls_server_name)
                            if args.tls_server_name else None),
            ),
            opts=child,
        )
        target = integration.id.apply(lambda i: f"integrations/{i}")

        routes: list[v2.Route] = []
        for key in AUTHENTICATED_ROUTES:
            routes.append(v2.Route(
                f"{name}-route-{_route_role(key)}",
                v2.RouteArgs(api_id=api.id, route_key=key, target=target, authorization_type="JWT",
                             authorizer_id=authorizer.id),
                opts=child,
            ))
        for key in PUBLIC_ROUTES:
            routes.append(v2.Route(
                f"{name}-route-{_route_role(key)}",
                v2.RouteArgs(api_id=api.id, route_key=key, target=target, authorization_type="NONE"),
                opts=child,
            ))

        access_logs = aws.cloudwatch.LogGroup(
            f"{name}-access-logs",
            aws.cloudwatch.LogGroupArgs(name_prefix=f"/aws/apigateway/{name}-",
                                        retention_in_days=args.access_log_retention_days,
                                        kms_key_id=args.log_kms_key_arn, tags=tags),
            opts=child,
        )
        stage = v2.Stage(
            f"{name}-stage",
            v2.StageArgs(
                api_id=api.id,
                name="$default",
                auto_deploy=True,
                access_log_settings=v2.StageAccessLogSettingsArgs(destination_arn=access_logs.arn,
                                                                  format=ACCESS_LOG_FORMAT),
                default_route_settings=v2.StageDefaultRouteSettingsArgs(
                    throttling_burst_limit=args.config.throttling_burst_limit,
                    throttling_rate_limit=float(args.config.throttling_rate_limit),
                    detailed_metrics_enabled=True,
                ),
                tags=tags,
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=routes),
        )

        domain_target: pulumi.Output[str | None] = pulumi.Output.from_input(None)
        domain_zone_id: pulumi.Output[str | None] = pulumi.Output.from_input(None)
        if args.domain_name is not None and args.certificate_arn is not None:
            domain = v2.DomainName(
                f"{name}-domain",
                v2.DomainNameArgs(
                    domain_name=args.domain_name,
                    domain_name_configuration=v2.DomainNameDomainNameConfigurationArgs(
                        certificate_arn=args.certificate_arn, endpoint_type="REGIONAL", security_policy="TLS_1_2",
                    ),
                    tags=tags,
                ),
                opts=child,
            )
            v2.ApiMapping(
                f"{name}-mapping",
                v2.ApiMappingArgs(api_id=api.id, domain_name=domain.id, stage=stage.id),
                opts=child,
            )
            domain_target = domain.domain_name_configuration.apply(
                lambda c: c.get("targetDomainName") if type(c) is dict else getattr(c, "target_domain_name", None)
            )
            domain_zone_id = domain.domain_name_configuration.apply(
                lambda c: c.get("hostedZoneId") if type(c) is dict else getattr(c, "hosted_zone_id", None)
            )

        self.api_id = api.id
        self.api_endpoint = api.api_endpoint
        self.stage_url = stage.invoke_url
        self.authorizer_id = authorizer.id
        self.vpc_link_security_group_id = link_sg.id
        self.domain_target = domain_target
        self.domain_zone_id = domain_zone_id
        self.register_outputs({
            "domainTarget": self.domain_target,
            "apiId": self.api_id,
            "apiEndpoint": self.api_endpoint,
            "stageUrl": self.stage_url,
            "authorizerId": self.authorizer_id,
            "vpcLinkSecurityGroupId": self.vpc_link_security_group_id,
        })
