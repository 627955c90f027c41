"""api-custom-domain-only and api-no-internal-routes."""

import pytest
from pulumi_policy.proxy import UNKNOWN_BOOLEAN_VALUE

from policies.rules.api import API_CUSTOM_DOMAIN_ONLY, API_NO_INTERNAL_ROUTES

API_T = "aws:apigatewayv2/api:Api"
DOMAIN_T = "aws:apigatewayv2/domainName:DomainName"
MAPPING_T = "aws:apigatewayv2/apiMapping:ApiMapping"
ROUTE_T = "aws:apigatewayv2/route:Route"
REST_T = "aws:apigateway/restApi:RestApi"
REST_MAPPING_T = "aws:apigateway/basePathMapping:BasePathMapping"
API = {"id": "a1b2c3", "protocolType": "HTTP", "disableExecuteApiEndpoint": True}
DOMAIN = {"id": "api.shop.example", "domainName": "api.shop.example"}
MAPPING = {"apiId": "a1b2c3", "domainName": "api.shop.example", "stage": "$default"}
MESSAGE = (
    "API shop is served on a custom domain (api.shop.example) but disableExecuteApiEndpoint is not true: its "
    "execute-api URL reaches the same backend around the domain's TLS policy and anything attached to the domain"
)


def _stack(api=None, deps=None):
    return [
        (API_T, "shop", {**API, **(api or {})}, {}),
        (DOMAIN_T, "domain", DOMAIN, {}),
        (MAPPING_T, "mapping", MAPPING, {"apiId": ["shop"], "domainName": ["domain"]} if deps is None else deps),
    ]


def test_compliant_domain_mapping_passes(via_stack_policy):
    assert via_stack_policy(API_CUSTOM_DOMAIN_ONLY, _stack()) == []
    assert API_CUSTOM_DOMAIN_ONLY.enforcement.value == "advisory"


@pytest.mark.parametrize("value", [False, None])
def test_execute_api_endpoint_left_on(via_stack_policy, value):
    assert via_stack_policy(API_CUSTOM_DOMAIN_ONLY, _stack({"disableExecuteApiEndpoint": value})) == [
        ("urn:pulumi:t::p::aws:apigatewayv2/api:Api::shop", MESSAGE)
    ]


def test_joined_by_id_without_dependencies(via_stack_policy):
    by_id = _stack({"disableExecuteApiEndpoint": False}, {})
    assert [m for _, m in via_stack_policy(API_CUSTOM_DOMAIN_ONLY, by_id)] == [MESSAGE]


def test_api_without_a_domain_keeps_its_endpoint(via_stack_policy):
    alone = [(API_T, "shop", {**API, "disableExecuteApiEndpoint": False}, {})]
    assert via_stack_policy(API_CUSTOM_DOMAIN_ONLY, alone) == []


def test_unknown_is_not_a_finding(via_stack_policy):
    assert via_stack_policy(API_CUSTOM_DOMAIN_ONLY, _stack({"disableExecuteApiEndpoint": UNKNOWN_BOOLEAN_VALUE})) == []


def test_rest_api_base_path_mapping(via_stack_policy):
    stack = [
        (REST_T, "legacy", {"id": "r1"}, {}),
        (
            REST_MAPPING_T,
            "legacy-mapping",
            {"restApi": "r1", "domainName": "old.shop.example"},
            {"restApi": ["legacy"]},
        ),
    ]
    assert [m for _, m in via_stack_policy(API_CUSTOM_DOMAIN_ONLY, stack)] == [
        "API legacy is served on a custom domain (old.shop.example) but disableExecuteApiEndpoint is not true: its "
        "execute-api URL reaches the same backend around the domain's TLS policy and anything attached to the domain"
    ]


def _route(key, **extra):
    return {"apiId": "a1b2c3", "routeKey": key, "target": "integrations/i1", "authorizationType": "NONE", **extra}


@pytest.mark.parametrize(
    "key",
    [
        "GET /healthz",
        "POST /auth/login",
        "GET /cart",
        "PUT /cart/items/{sku}",
        "GET /orders/{id}",
        "ANY /cart/{proxy+}",
    ],
)
def test_public_app_routes_pass(via_policy, key):
    assert via_policy(API_NO_INTERNAL_ROUTES, ROUTE_T, _route(key)) == []


@pytest.mark.parametrize(
    ("key", "routed"),
    [
        ("GET /readyz", "/readyz"),
        ("ANY /readyz", "/readyz"),
        ("GET /metrics", "/metrics"),
        ("GET /{page}", "/readyz, /metrics"),
        ("ANY /{proxy+}", "/readyz, /metrics"),
        ("$default", "/readyz, /metrics"),
    ],
)
def test_internal_endpoints_routed(via_policy, key, routed):
    assert via_policy(API_NO_INTERNAL_ROUTES, ROUTE_T, _route(key)) == [
        f"route {key} sends {routed} to the backend: internal endpoints are for the load balancer and monitoring, "
        "not the internet; route the app's public paths one by one"
    ]


def test_authorization_does_not_make_an_internal_route_fine(via_policy):
    # Registration is public, so a JWT proves only that someone signed up.
    props = _route("GET /metrics", authorizationType="JWT", authorizerId="au1")
    assert len(via_policy(API_NO_INTERNAL_ROUTES, ROUTE_T, props)) == 1


def test_internal_paths_are_configurable(via_policy):
    assert via_policy(API_NO_INTERNAL_ROUTES, ROUTE_T, _route("GET /healthz"), {"internalPaths": ["/healthz"]}) == [
        "route GET /healthz sends /healthz to the backend: internal endpoints are for the load balancer and "
        "monitoring, not the internet; route the app's public paths one by one"
    ]
    assert via_policy(API_NO_INTERNAL_ROUTES, ROUTE_T, _route("GET /readyz"), {"internalPaths": []}) == []


OPEN = {"disableExecuteApiEndpoint": False}


def _message(api: str, shown: str) -> str:
    return MESSAGE.replace("API shop", f"API {api}").replace(" (api.shop.example)", shown)


def test_the_domain_resource_names_the_domain_when_the_mapping_holds_its_id(via_stack_policy):
    stack = [
        (API_T, "shop", {**API, **OPEN}, {}),
        (DOMAIN_T, "domain", {"id": "dn-7f3e", "domainName": "api.shop.example"}, {}),
        (MAPPING_T, "mapping", {"apiId": "a1b2c3", "domainName": "dn-7f3e"}, {}),
    ]
    assert via_stack_policy(API_CUSTOM_DOMAIN_ONLY, stack) == [
        ("urn:pulumi:t::p::aws:apigatewayv2/api:Api::shop", MESSAGE)
    ]
    by_dependency = [*stack[:2], (MAPPING_T, "mapping", {"apiId": "a1b2c3"}, {"domainName": ["domain"]})]
    assert [m for _, m in via_stack_policy(API_CUSTOM_DOMAIN_ONLY, by_dependency)] == [MESSAGE]


def test_a_mapping_without_a_known_domain_name_shows_none(via_stack_policy):
    for mapping in ({"apiId": "a1b2c3"}, {"apiId": "a1b2c3", "domainName": ""}):
        stack = [(API_T, "shop", {**API, **OPEN}, {}), (MAPPING_T, "mapping", mapping, {})]
        assert [m for _, m in via_stack_policy(API_CUSTOM_DOMAIN_ONLY, stack)] == [_message("shop", "")]


def test_each_api_is_reported_once_and_every_api_is_judged(via_stack_policy):
    stack = [
        (API_T, "closed", {"id": "c0", "disableExecuteApiEndpoint": True}, {}),
        (API_T, "shop", {**API, **OPEN}, {}),
        (API_T, "admin", {"id": "d4e5f6", **OPEN}, {}),
        (MAPPING_T, "m-orphan", {"apiId": "gone", "domainName": "x.example"}, {}),
        (MAPPING_T, "m-closed", {"apiId": "c0", "domainName": "c.example"}, {}),
        (MAPPING_T, "m1", {"apiId": "a1b2c3", "domainName": "api.shop.example"}, {}),
        (MAPPING_T, "m2", {"apiId": "a1b2c3", "domainName": "api.shop.example"}, {}),
        (MAPPING_T, "m3", {"apiId": "d4e5f6", "domainName": "admin.example"}, {}),
    ]
    assert via_stack_policy(API_CUSTOM_DOMAIN_ONLY, stack) == [
        ("urn:pulumi:t::p::aws:apigatewayv2/api:Api::shop", MESSAGE),
        ("urn:pulumi:t::p::aws:apigatewayv2/api:Api::admin", _message("admin", " (admin.example)")),
    ]


@pytest.mark.parametrize(
    ("route", "path", "matches"),
    [
        ("/{proxy+}", "/metrics", True),
        ("/{proxy+}", "/a/b", True),
        ("/api/{proxy+}", "/api", False),
        ("/api/{proxy+}", "/api/metrics", True),
        ("/metrics/{part}", "/metrics", False),
        ("/{name}", "/metrics", True),
        ("/{name", "/metrics", False),
        ("/name}", "/metrics", False),
        ("/metrics+}", "/a/b", False),
        ("/metrics", "/metrics", True),
        ("/metrics", "/metrics/x", False),
    ],
)
def test_route_paths_match_as_api_gateway_matches_them(route, path, matches):
    from policies.rules.api import _path_matches

    assert _path_matches(route, path) is matches


@pytest.mark.parametrize(
    ("key", "routed"),
    [
        ("HEAD /metrics", ["/metrics"]),
        ("GET /readyz", ["/readyz"]),
        ("POST /metrics", []),
        ("GET", []),
        ("GET\t/metrics", []),
        ("$default", ["/readyz", "/metrics"]),
    ],
)
def test_route_keys_are_a_method_a_space_and_a_path(key, routed):
    from policies.rules.api import DEFAULT_INTERNAL_PATHS, routed_internal_paths

    assert routed_internal_paths(key, DEFAULT_INTERNAL_PATHS) == routed


def test_a_configured_internal_path_with_a_space_is_matched_whole():
    from policies.rules.api import check_internal_routes, routed_internal_paths

    assert routed_internal_paths("GET /debug info", ["/debug info"]) == ["/debug info"]
    # Without config the rule uses its default internal paths.
    assert check_internal_routes(ROUTE_T, {"routeKey": "GET /metrics"}, {}) != []
    assert check_internal_routes(ROUTE_T, {"routeKey": "GET /cart"}, {}) == []


def test_default_enforcement_levels():
    """Mandatory blocks a deployment, advisory only reports: the default is part of the rule's promise."""
    assert API_NO_INTERNAL_ROUTES.enforcement.value == "advisory"
