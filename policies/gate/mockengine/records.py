"""The one record of a resource: what the mock engine captures and what a stack document holds, and
what the gate judges and reports."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# The engine's marker for a value not known during a preview (pulumi/runtime/rpc.py UNKNOWN; the
# analyzer's pulumi_policy/proxy.py UNKNOWN_STRING_VALUE): kept in Resource.inputs and outputs, so that
# a policy reading it gets "can't run policy ... during preview", never a guess.
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"


@dataclass(frozen=True)
class Resource:
    urn: str
    type: str
    name: str
    inputs: Mapping[str, Any]
    parent: str | None
    dependencies: tuple[str, ...]
    property_dependencies: Mapping[str, tuple[str, ...]]
    provider: str | None
    custom: bool = True
    protect: bool = False
    secret_paths: tuple[str, ...] = ()
    # Camel-case engine names: ignoreChanges, deleteBeforeReplace, retainOnDelete,
    # additionalSecretOutputs, deletedWith, aliases.
    options: Mapping[str, Any] = field(default_factory=dict)
    outputs: Mapping[str, Any] = field(default_factory=dict)
    # Registered with remote=True: a multi-language component that only the engine's call to its
    # provider's Construct fills with children; under mocks it stays empty.
    remote: bool = False
    # The registration's sourcePosition (the user code that declared it): absolute path and line.
    source: tuple[str, int] | None = None
