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
