"""A rule for what no policy could look inside: components whose children are not in the stack, and
resources that deploy objects the engine never registers.

Multi-language components (`remote=True` in the SDKs: Helm v3/v4 charts, `kubernetes.yaml.v2`
ConfigFile/ConfigGroup, kustomize v2, awsx, eks, any provider's component) are built by their
provider's `Construct` inside the Pulumi engine: the engine calls it and the provider registers the
component and its children back through the resource monitor, so under `pulumi preview` every child
is a resource of its own that every other rule judges (pulumi/pulumi
pkg/resource/deploy/source_eval.go, `RegisterResource`: `if remote { ... provider.Construct(...) }`).
Under a mock engine (the offline gate, unit tests) nothing constructs them: the component arrives
with no children, and a stateful Redis inside a chart would pass silently. The Python Helm v3 Chart
and kustomize v1 Directory render through an invoke of the provider (`kubernetes:helm:template`,
`kubernetes:kustomize:directory`) that needs the chart or the kustomization built, so they are just
as empty without it. (The v1 yaml ConfigFile/ConfigGroup decode through `kubernetes:yaml:decode`,
which the mock engine answers as the provider does: their objects are judged.)

The rule therefore reports every resource of a component type that has no child in the stack (so
under the CLI, where the children are there and judged, it stays silent), plus `opaqueTypes`:
resources whose deployed objects never become Pulumi resources at all (a Helm `Release` installs the
chart with Helm itself), which no engine lets a policy see.
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from ._core import Rule, StackResource

DEFAULT_COMPONENT_TYPES = (
    "kubernetes:helm.sh/v3:Chart",
    "kubernetes:helm.sh/v4:Chart",
    "kubernetes:yaml/v2:ConfigFile",
    "kubernetes:yaml/v2:ConfigGroup",
    "kubernetes:kustomize/v2:Directory",
    "kubernetes:kustomize:Directory",
    "awsx:*",
    "eks:*",
)
DEFAULT_OPAQUE_TYPES = ("kubernetes:helm.sh/v3:Release",)


def _matches(resource_type: str, patterns: Any) -> bool:
    return any(isinstance(p, str) and fnmatchcase(resource_type, p) for p in (patterns or ()))


def unjudged_components(resources: list[StackResource], config: dict[str, Any]) -> list[tuple[str, str]]:
    """(urn, message) for every resource whose contents no policy saw."""
    parents = {r.parent for r in resources if r.parent}
    found: list[tuple[str, str]] = []
    for r in resources:
        if _matches(r.resource_type, config.get("opaqueTypes")):
            found.append(
                (
                    r.urn,
                    f"{r.resource_type} {r.name} was not judged: it deploys objects that never become "
                    "Pulumi resources, so no policy can see inside it; declare them as resources "
                    "(e.g. helm.v4.Chart) to have them judged",
                )
            )
        elif _matches(r.resource_type, config.get("componentTypes")) and r.urn not in parents:
            found.append(
                (
                    r.urn,
                    f"{r.resource_type} {r.name} was not judged: its children are created by its provider "
                    "inside the Pulumi engine, and none of them were visible; judge it with "
                    "`pulumi preview --policy-pack policies` or the gate's --preview on that preview's JSON",
                )
            )
    return found


def check_unjudged_components(
    resources: list[StackResource], config: dict[str, Any]
) -> list[tuple[str | None, str]]:
    return list(unjudged_components(resources, config))


NO_UNJUDGED_COMPONENTS = Rule(
    name="no-unjudged-components",
    description="Every component's contents are judged: a component whose children were not visible is reported.",
    severity=Severity.HIGH,
    enforcement=EnforcementLevel.ADVISORY,
    why="A Helm chart, YAML bundle or awsx/eks component can bring a StatefulSet with a volume, a public "
    "bucket or a plaintext secret; when its children are not visible to the policies, a PASS says "
    "nothing about them.",
    remediation="Judge the stack where the components are constructed (`pulumi preview --policy-pack "
    "policies`, or `python -m policies.gate --preview` on `pulumi preview --json`), or declare the "
    "resources directly with pulumi_aws / pulumi_kubernetes.",
    stack_check=check_unjudged_components,
    config={
        "componentTypes": {
            "type": "array",
            "items": {"type": "string"},
            "default": list(DEFAULT_COMPONENT_TYPES),
            "description": "Type tokens (shell-style wildcards) of components whose children are created by "
            "their provider; reported when none of their children are in the stack.",
        },
        "opaqueTypes": {
            "type": "array",
            "items": {"type": "string"},
            "default": list(DEFAULT_OPAQUE_TYPES),
            "description": "Type tokens of resources that deploy objects which never become Pulumi resources; "
            "always reported.",
        },
    },
    tags=("coverage",),
)

RULES = (NO_UNJUDGED_COMPONENTS,)
