"""Rules for API Gateway in front of the app: only the custom domain is reachable, and the app's internal
endpoints are not routed.

Property names are pulumi-aws v7's: `aws.apigatewayv2.Api.disableExecuteApiEndpoint`,
`aws.apigatewayv2.ApiMapping.apiId` / `domainName`, `aws.apigatewayv2.Route.routeKey`
(pulumi_aws/apigatewayv2/api.py, api_mapping.py, route.py) and for REST APIs
`aws.apigateway.RestApi.disableExecuteApiEndpoint` with `aws.apigateway.BasePathMapping.restApi`
(pulumi_aws/apigateway/rest_api.py, base_path_mapping.py).
"""

from __future__ import annotations

from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from ._core import UNKNOWN, Rule, StackResource, linked, resource_keys, truthy, type_set

HTTP_API = "aws:apigatewayv2/api:Api"
HTTP_API_MAPPING = "aws:apigatewayv2/apiMapping:ApiMapping"
HTTP_DOMAIN = "aws:apigatewayv2/domainName:DomainName"
REST_API = "aws:apigateway/restApi:RestApi"
REST_MAPPING = "aws:apigateway/basePathMapping:BasePathMapping"
REST_DOMAIN = "aws:apigateway/domainName:DomainName"
ROUTE = "aws:apigatewayv2/route:Route"

# Mapping type -> (the property naming the API, the API type, the domain type).
_MAPPINGS = {
    HTTP_API_MAPPING: ("apiId", HTTP_API, HTTP_DOMAIN),
    REST_MAPPING: ("restApi", REST_API, REST_DOMAIN),
}
DEFAULT_INTERNAL_PATHS = ["/readyz", "/metrics"]


def _by_key(resources: list[StackResource], resource_type: str, *names: str) -> dict[str, StackResource]:
    return {key: r for r in resources if r.resource_type == resource_type for key in resource_keys(r, *names)}


def check_custom_domain_only(resources: list[StackResource], config: dict[str, Any]) -> list[tuple[str | None, str]]:
    found: list[tuple[str | None, str]] = []
    reported: set[str] = set()
    for mapping_type, (prop, api_type, domain_type) in _MAPPINGS.items():
        apis = _by_key(resources, api_type, "id")
        # A mapping that names the domain by its name shows that name anyway; by id, the domain tells it.
        domains = _by_key(resources, domain_type, "id")
        for mapping in (r for r in resources if r.resource_type == mapping_type):
            api = linked(mapping, prop, apis)
            if api is None or api.urn in reported:
                continue
            disabled = api.props.get("disableExecuteApiEndpoint")
            if disabled is UNKNOWN or truthy(disabled):
                continue
            domain = linked(mapping, "domainName", domains)
            name = domain.props.get("domainName") if domain is not None else mapping.props.get("domainName")
            shown = f" ({name})" if isinstance(name, str) and name else ""
            reported.add(api.urn)
            found.append(
                (
                    api.urn,
                    f"API {api.name} is served on a custom domain{shown} but "
                    "disableExecuteApiEndpoint is not true: its execute-api URL reaches the same backend "
                    "around the domain's TLS policy and anything attached to the domain",
                )
            )
    return found


def _path_matches(route_path: str, path: str) -> bool:
    """Whether an API Gateway route path (`/cart/{id}`, `/{proxy+}`) routes the request path `path`."""
    route = [s for s in route_path.split("/") if s]
    wanted = [s for s in path.split("/") if s]
    for i, segment in enumerate(route):
        if segment.startswith("{") and segment.endswith("+}"):
            return len(wanted) > i
        if i >= len(wanted) or not (segment == wanted[i] or (segment.startswith("{") and segment.endswith("}"))):
            return False
    return len(route) == len(wanted)


def routed_internal_paths(route_key: str, internal: list[str]) -> list[str]:
    """The internal paths a route key sends to the backend (`$default` catches every path)."""
    if route_key == "$default":
        return list(internal)
    parts = route_key.split(" ", 1)
    if len(parts) != 2 or parts[0] not in ("ANY", "GET", "HEAD"):
        return []
    return [p for p in internal if _path_matches(parts[1].strip(), p)]


def check_internal_routes(resource_type: str, props: dict[str, Any], config: dict[str, Any]) -> list[str]:
    key = props.get("routeKey")
    if not isinstance(key, str):
        return []
    internal = [p for p in config.get("internalPaths", DEFAULT_INTERNAL_PATHS) if isinstance(p, str)]
    routed = routed_internal_paths(key.strip(), internal)
    if not routed:
        return []
    return [
        f"route {key.strip()} sends {', '.join(routed)} to the backend: internal endpoints are for the load "
        "balancer and monitoring, not the internet; route the app's public paths one by one"
    ]


API_CUSTOM_DOMAIN_ONLY = Rule(
    name="api-custom-domain-only",
    description="An API served on a custom domain disables its default execute-api endpoint.",
    severity=Severity.MEDIUM,
    enforcement=EnforcementLevel.ADVISORY,
    why="With a custom domain in front, the execute-api URL is a second way in that skips what the domain "
    "enforces (TLS policy, mutual TLS, a WAF on the domain) "
    "(https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-disable-default-endpoint.html).",
    remediation="Set disableExecuteApiEndpoint: true on the API when a domain mapping points at it.",
    stack_check=check_custom_domain_only,
    tags=("security", "api-gateway"),
)

API_NO_INTERNAL_ROUTES = Rule(
    name="api-no-internal-routes",
    description="HTTP API routes do not forward the app's internal endpoints (readiness, metrics).",
    severity=Severity.LOW,
    enforcement=EnforcementLevel.ADVISORY,
    why="Readiness is the load balancer's business and metrics are monitoring's; through the API they tell "
    "the internet which replica is draining and how the service is doing. A `$default` or greedy "
    "`/{proxy+}` route forwards them along with everything else.",
    remediation="Route the app's public paths one by one (the gateway answers 404 for the rest) and leave "
    "/readyz and /metrics unrouted.",
    resource_types=type_set(ROUTE),
    check=check_internal_routes,
    config={
        "internalPaths": {
            "type": "array",
            "items": {"type": "string"},
            "default": DEFAULT_INTERNAL_PATHS,
            "description": "Request paths of the backend that must not be reachable through the API.",
        }
    },
    tags=("security", "api-gateway"),
)

RULES = (API_CUSTOM_DOMAIN_ONLY, API_NO_INTERNAL_ROUTES)
