"""Runs the pack's policies over a captured program the way pulumi_policy's analyzer server does.

Resource policies get a `ResourceValidationArgs` per resource (inputs behind the same unknown-checking
proxy, options, provider, the policy's reconciled config); stack policies get `PolicyResource`
objects for every resource (outputs, parent and dependency links resolved to objects). Disabled
policies are skipped; remediate counts as mandatory; a property not known during preview becomes an
advisory "can't run policy" note as in the analyzer; not_applicable() is honoured.

Waivers in a policy's config (rules/waivers.py) are applied here with the same functions the pack's
adapter uses, but the finding is kept, marked `waived`, so that reports can show it: the policy is
called without its waivers, and each reported finding is then decided (waived; or reported again,
saying that its waiver expired, as the pack reports it). `unmatched_waivers` names the waivers that
covered no finding.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from inspect import isawaitable
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyCustomTimeouts,
    PolicyProviderResource,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.policy import _NotApplicableError
from pulumi_policy.proxy import UnknownValueError, unknown_checking_proxy

from ..rules import waivers as waiver_rules
from ..rules.waivers import Waiver
from .config import PolicySettings
from .records import Resource

STACK_TYPE = "pulumi:pulumi:Stack"


class PolicyCrash(Exception):
    """A policy raised while judging a resource: a defect in the pack, not in the program."""


@dataclass(frozen=True)
class Violation:
    policy: str
    enforcement: str
    urn: str
    type: str
    name: str
    message: str
    # How to fix it: the policy's remediation steps.
    remediation: str = ""
    # The live waiver that accepts this finding (shown, never counted toward the exit status).
    waived: Waiver | None = None
    # The registration's sourcePosition of the resource (absolute path, line), when recorded.
    source: tuple[str, int] | None = None
    # Recorded in the baseline given with --baseline (shown, never counted toward the exit status).
    baselined: bool = False

    @property
    def counts(self) -> bool:
        """Counts toward the verdict: neither waived nor baselined."""
        return self.waived is None and not self.baselined


@dataclass(frozen=True)
class UnmatchedWaiver:
    """A waiver in the policy config that covered no finding of its policy (fixed, renamed or a typo)."""

    policy: str
    waiver: Waiver


def stack_urn(project: str, stack: str) -> str:
    return f"urn:pulumi:{stack}::{project}::{STACK_TYPE}::{project}-{stack}"


def _options(r: Resource) -> PolicyResourceOptions:
    opts = r.options
    dbr = opts.get("deleteBeforeReplace")
    return PolicyResourceOptions(
        protect=r.protect,
        ignore_changes=list(opts.get("ignoreChanges") or []),
        delete_before_replace=bool(dbr) if dbr else None,
        aliases=list(opts.get("aliases") or []),
        custom_timeouts=PolicyCustomTimeouts(0, 0, 0),
        additional_secret_outputs=list(opts.get("additionalSecretOutputs") or []),
        parent=r.parent,
    )


def _provider(r: Resource, by_urn: Mapping[str, Resource]) -> PolicyProviderResource | None:
    if not r.provider:
        return None
    urn = r.provider.rsplit("::", 1)[0] if r.provider.count("::") > 3 else r.provider
    ref = by_urn.get(urn)
    if ref is None:
        return None
    return PolicyProviderResource(ref.type, unknown_checking_proxy(dict(ref.inputs)), ref.urn, ref.name)


def _run(result: Any) -> None:
    if isawaitable(result):
        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(result)
        finally:
            loop.close()


def _effective(settings: PolicySettings) -> EnforcementLevel:
    return EnforcementLevel.MANDATORY if settings.enforcement == EnforcementLevel.REMEDIATE else settings.enforcement


def evaluate(
    resources: Sequence[Resource],
    policies: Sequence[Policy],
    settings: Mapping[str, PolicySettings],
    project: str,
    stack: str,
    providers: Sequence[Resource] = (),
) -> list[Violation]:
    """`providers`: provider resources that are not judged but that resources refer to."""
    by_urn = {r.urn: r for r in (*providers, *resources)}
    root_urn = stack_urn(project, stack)
    violations: list[Violation] = []
    on = waiver_rules.today()
    waivers = {
        name: waiver_rules.waivers_of(s.properties, f"policy config: {name}") for name, s in settings.items()
    }

    def reporter(policy: Policy, level: EnforcementLevel, default: Resource | None) -> Any:
        remediation = policy.remediation_steps or ""

        def report_violation(message: str, urn: str | None = None) -> None:
            if message and not isinstance(message, str):
                raise TypeError("Expected message to be a string")
            target = default if default is not None else (by_urn.get(urn) if urn else None)
            source = None if target is None else target.source
            if target is None:
                subject_urn, subject_type, subject_name = urn or root_urn, STACK_TYPE, f"{project}-{stack}"
            else:
                subject_urn, subject_type, subject_name = target.urn, target.type, target.name
            # Matched by the URN's own name, as the pack's adapter matches it (rules/_core.py).
            decision = waiver_rules.decide(
                waivers[policy.name], subject_urn, waiver_rules.name_of(subject_urn), message, on
            )
            violations.append(
                Violation(
                    policy.name,
                    level.value,
                    subject_urn,
                    subject_type,
                    subject_name,
                    decision.message,
                    remediation,
                    decision.waiver if decision.waived else None,
                    source,
                )
            )

        return report_violation

    def preview_note(policy: Policy, err: UnknownValueError, subject: Resource | None) -> None:
        violations.append(
            Violation(
                policy.name,
                EnforcementLevel.ADVISORY.value,
                subject.urn if subject else root_urn,
                subject.type if subject else STACK_TYPE,
                subject.name if subject else f"{project}-{stack}",
                f"can't run policy '{policy.name}' during preview: {err.message}",
            )
        )

    active = [
        (p, _effective(settings[p.name])) for p in policies if settings[p.name].enforcement != EnforcementLevel.DISABLED
    ]
    resource_policies = [(p, lvl) for p, lvl in active if isinstance(p, ResourceValidationPolicy)]
    stack_policies = [(p, lvl) for p, lvl in active if isinstance(p, StackValidationPolicy)]

    for r in resources:
        options = _options(r)
        provider = _provider(r, by_urn)
        # One proxy per resource: the pack's policies only read props, so sharing it is equivalent to
        # the analyzer's fresh copy per policy and keeps evaluation linear in the number of resources.
        props = unknown_checking_proxy(dict(r.inputs))
        for policy, level in resource_policies:
            # A copy, so that no policy changes another's; no stack tags are known (the analyzer's
            # args read an absent config or tags as empty).
            config = dict(waiver_rules.without_waivers(settings[policy.name].properties))
            args = ResourceValidationArgs(r.type, props, r.urn, r.name, options, provider, config)
            try:
                _run(policy.validate(args, reporter(policy, level, r)))
            except UnknownValueError as err:
                preview_note(policy, err, r)
            except _NotApplicableError:
                continue
            except Exception as exc:
                raise PolicyCrash(f"policy {policy.name} failed on {r.urn}: {exc}") from exc

    if stack_policies:
        stack_resources = _policy_resources(resources, project, stack, by_urn)
        for stack_policy, level in stack_policies:
            config = dict(waiver_rules.without_waivers(settings[stack_policy.name].properties))
            stack_args = StackValidationArgs(stack_resources, config)
            try:
                _run(stack_policy.validate(stack_args, reporter(stack_policy, level, None)))
            except UnknownValueError as err:
                preview_note(stack_policy, err, None)
            except _NotApplicableError:
                continue
            except Exception as exc:
                raise PolicyCrash(f"policy {stack_policy.name} failed on the stack: {exc}") from exc
    return violations


def unmatched_waivers(
    settings: Mapping[str, PolicySettings], violations: Sequence[Violation], not_judged: Collection[str] = ()
) -> list[UnmatchedWaiver]:
    """Waivers that cover no finding of their policy, in policy-config order: so that waivers do not rot.
    `not_judged`: policies this run could not judge (the change rule without a change to judge), whose
    waivers are neither matched nor stale."""
    found = []
    for name, current in settings.items():
        if name in not_judged:
            continue
        for waiver in waiver_rules.waivers_of(current.properties, f"policy config: {name}"):
            if not any(v.policy == name and waiver.matches(v.urn, v.name) for v in violations):
                found.append(UnmatchedWaiver(name, waiver))
    return found


def _policy_resources(
    resources: Sequence[Resource], project: str, stack: str, by_urn: Mapping[str, Resource]
) -> list[PolicyResource]:
    root_urn = stack_urn(project, stack)
    # The root stack has no parent (the options' default).
    root_opts = PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [])
    root = PolicyResource(
        STACK_TYPE, unknown_checking_proxy({}), root_urn, f"{project}-{stack}", root_opts, None, None, [], {}
    )
    out: dict[str, PolicyResource] = {root_urn: root}
    for r in resources:
        # Stack policies see what the engine knows after the step: the outputs (inputs plus computed).
        props = dict(r.outputs) if r.outputs else dict(r.inputs)
        out[r.urn] = PolicyResource(
            r.type, unknown_checking_proxy(props), r.urn, r.name, _options(r), _provider(r, by_urn), None, [], {}
        )
    for r in resources:
        # Linked once every resource has its object.
        pr = out[r.urn]
        pr.parent = out.get(r.parent or root_urn)
        pr.dependencies.extend(out[d] for d in r.dependencies if d in out)
        pr.property_dependencies.update(
            {k: [out[d] for d in v if d in out] for k, v in r.property_dependencies.items()}
        )
    return list(out.values())
