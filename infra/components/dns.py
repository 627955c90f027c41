"""DNS: the alias record that makes the stack's domain point at its entry point.

Creates, under one `stateless:dns:AliasRecord` component, an `A` alias record in the given Route 53
public hosted zone: the stack's domain (certificateDomain with an internet-facing ALB, apiDomainName with
API Gateway) to the ALB or to the API's regional custom domain. An alias answers with the target's current
addresses and costs no queries; the target's own hosted zone id comes from the target
(https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/resource-record-sets-choosing-alias-non-alias.html).
Without it the certificate covers a name nobody resolves, and in apigateway mode the JWT authorizer cannot
fetch `<issuer>/.well-known/openid-configuration`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_ZONE = re.compile(r"^Z[A-Z0-9]{1,31}$")


@dataclass(frozen=True, kw_only=True)
class AliasRecordArgs:
    zone_id: str
    """the public hosted zone that holds `name`"""
    name: str
    target_dns_name: pulumi.Input[str]
    target_zone_id: pulumi.Input[str]
    evaluate_target_health: bool = True

    def __post_init__(self) -> None:
        if not _ZONE.match(self.zone_id):
            raise ValueError(f"{self.zone_id!r} is not a Route 53 hosted zone id")
        if not _DOMAIN.match(self.name):
            raise ValueError(f"{self.name!r} is not a lowercase DNS name")


class AliasRecord(pulumi.ComponentResource):
    fqdn: pulumi.Output[str]

    def __init__(self, name: str, args: AliasRecordArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("stateless:dns:AliasRecord", name, None, opts)
        record = aws.route53.Record(
            f"{name}-a",
            zone_id=args.zone_id,
            name=args.name,
            type="A",
            aliases=[aws.route53.RecordAliasArgs(
                name=args.target_dns_name, zone_id=args.target_zone_id,
                evaluate_target_health=args.evaluate_target_health,
            )],
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.fqdn = record.fqdn
        self.register_outputs({"fqdn": self.fqdn})
