"""No plaintext secrets in user data, Lambda environment variables, ECS container definitions or
Kubernetes env literals.

A variable whose name says it is a secret (PASSWORD, PASSWD, `_PWD`, `_PASS`, `_PW`, SECRET, TOKEN,
API_KEY, PRIVATE_KEY, ACCESS_KEY ...) must not carry a literal value; references are fine (Secrets Manager or SSM ARNs
and parameter paths, `{{resolve:...}}`, shell expansions like `$(aws secretsmanager ...)`,
`valueFrom.secretKeyRef`), and so is a URL without credentials (a `*_PASSWORD_API` endpoint). AWS
access key ids and credentials embedded in URLs are flagged whatever the name. The policy engine
hands rules secret config values unwrapped, so a secret passed into an environment variable is
reported too: the value would sit in the function's or pod's spec in clear.
"""

from __future__ import annotations

import re
import urllib.parse
from typing import Any

from pulumi_policy import EnforcementLevel, Severity

from ._core import UNKNOWN, Rule, get, items, json_value
from .images import holds_unknown, not_known
from .kubernetes import containers, is_workload, pod_spec
from .userdata import USER_DATA_TYPES, user_data_texts, user_data_values

LAMBDA = "aws:lambda/function:Function"
ECS_TASK = "aws:ecs/taskDefinition:TaskDefinition"

# Short forms (`REDIS_PWD`, `SMTP_PASS`, `DB_PW`) only as whole words of the name: `PASS` inside
# `COMPASS` or `BYPASS_CACHE` is not a password.
SECRET_NAME = re.compile(
    r"(PASSWORD|PASSWD|PASSPHRASE|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|ACCESS_?KEY|CREDENTIALS?|AUTH_?KEY|"
    r"(?:^|_)(?:PWD|PASS|PW)(?:_|$))",
    re.IGNORECASE,
)
# Names that say they hold a pointer to a secret, or a setting about one, rather than the secret.
REFERENCE_NAME = re.compile(
    r"(_ARN|_ID|_NAME|_PATH|_FILE|_URL|_URI|_REF|_PARAM|_PARAMETER|_KEY_ID|_ENDPOINT|_TTL|_SECONDS|_MINUTES|"
    r"_EXPIRY|_EXPIRES|_LENGTH|_HEADER|_ALGORITHM|_ALG|_ISSUER|_AUDIENCE|_TYPE|_REGION|_VERSION|_ENABLED|"
    r"_PREFIX|_PROVIDER|_BACKEND|_MODE|_STORE|_SOURCE|_LOCATION|_POLICY|_ROTATION_DAYS)$",
    re.IGNORECASE,
)
REFERENCE_VALUE = re.compile(
    r"^(arn:aws[\w-]*:|/|\{\{resolve:|\$|`|secretsmanager:|ssm:|vault:|projects/)", re.IGNORECASE
)
ACCESS_KEY_ID = re.compile(r"(?<![A-Z0-9])(AKIA|ASIA)[A-Z0-9]{16}(?![A-Z0-9])")
URL_CREDENTIALS = re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s/:@]+:([^\s/@$]+)@", re.IGNORECASE)
SHELL_ASSIGNMENT = re.compile(
    r"""(?:^|[\s;"'])(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*[=:]\s*["']?([^\s"';]*)""", re.MULTILINE
)
PLACEHOLDER = re.compile(r"^(changeme|placeholder|redacted|none|null|xxx+|\*+|<[^>]*>)$", re.IGNORECASE)


def _reference_url(value: str) -> bool:
    """A URL that carries no credential: no user info, no secret-named query parameter with a value."""
    try:
        parsed = urllib.parse.urlsplit(value)
    except ValueError:
        return False
    if not parsed.scheme or not parsed.netloc or "@" in parsed.netloc or any(c.isspace() for c in value):
        return False
    query = urllib.parse.parse_qsl(parsed.query)
    return not any(SECRET_NAME.search(key) and item.strip() for key, item in query)


def secret_literal(name: str, value: Any) -> str | None:
    """A finding when `name=value` is a secret written out in clear, else None."""
    if not isinstance(value, str) or not value.strip() or holds_unknown(value):
        return None
    if ACCESS_KEY_ID.search(value):
        return f"{name} holds an AWS access key id"
    # The password part excludes `$`, so `postgres://app:$DB_PASSWORD@db` (a shell expansion) does not match.
    if URL_CREDENTIALS.search(value):
        return f"{name} embeds a password in a URL"
    if not SECRET_NAME.search(name) or REFERENCE_NAME.search(name):
        return None
    stripped = value.strip()
    if REFERENCE_VALUE.match(stripped) or PLACEHOLDER.match(stripped) or _reference_url(stripped):
        return None
    if stripped.lower() in ("true", "false") or stripped.replace(".", "", 1).isdigit():
        return None
    return f"{name} is set to a literal value"


def _unknown_secret(name: str, value: Any) -> bool:
    """A secret-named variable whose value the engine does not know yet: whether it is a literal or a
    reference cannot be told."""
    return (
        (value is UNKNOWN or holds_unknown(value))
        and bool(SECRET_NAME.search(name))
        and not REFERENCE_NAME.search(name)
    )


def _env_findings(where: str, pairs: list[tuple[str, Any]], unknown: list[str]) -> list[str]:
    found = []
    for name, value in pairs:
        finding = secret_literal(name, value)
        if finding:
            found.append(f"{where}: {finding}; pass a Secrets Manager/SSM reference and read it at runtime")
        elif _unknown_secret(name, value):
            unknown.append(name)
    return found


def _user_data_findings(props: dict[str, Any]) -> list[str]:
    found: list[str] = []
    for text in user_data_texts(props):
        for match in ACCESS_KEY_ID.finditer(text):
            message = f"user data contains an AWS access key id ({match.group(0)[:8]}...)"
            if message not in found:
                found.append(message)
        for match in SHELL_ASSIGNMENT.finditer(text):
            name, value = match.group(1), match.group(2)
            if ACCESS_KEY_ID.search(value):
                continue
            finding = secret_literal(name, value)
            if finding:
                message = f"user data: {finding}; fetch it from Secrets Manager/SSM at boot"
                if message not in found:
                    found.append(message)
    return found


def _findings(resource_type: str, props: dict[str, Any], unknown: list[str]) -> list[str]:
    if resource_type == LAMBDA:
        variables = get(props, "environment", "variables")
        if variables is UNKNOWN:
            unknown.append("environment.variables")
        if isinstance(variables, dict):
            return _env_findings("environment variable", sorted(variables.items()), unknown)
        return []
    if resource_type in USER_DATA_TYPES:
        unknown.extend("userData" for v in user_data_values(props) if v is UNKNOWN or holds_unknown(v))
        return _user_data_findings(props)
    if resource_type == ECS_TASK:
        raw = props.get("containerDefinitions")
        definitions = json_value(raw)
        if raw is UNKNOWN or (holds_unknown(raw) and definitions is None):
            unknown.append("containerDefinitions")
        pairs: list[tuple[str, Any]] = []
        for container in items(definitions):
            for env in items(get(container, "environment")):
                if isinstance(env, dict) and isinstance(env.get("name"), str):
                    pairs.append((env["name"], env.get("value")))
        return _env_findings("container environment", pairs, unknown)
    found: list[str] = []
    for container in containers(pod_spec(resource_type, props)):
        cname = container.get("name", "?")
        pairs = [
            (env["name"], env.get("value"))
            for env in items(container.get("env"))
            if isinstance(env, dict) and isinstance(env.get("name"), str) and env.get("value") is not None
        ]
        found.extend(_env_findings(f"container {cname} env", pairs, unknown))
    return found


def check_plaintext_secrets(resource_type: str, props: dict[str, Any], config: dict[str, Any]) -> list[str]:
    unknown: list[str] = []
    found = _findings(resource_type, props, unknown)
    if unknown and not found:
        not_known(unknown[0])
    return found


def _secret_types(resource_type: str) -> bool:
    return resource_type in (LAMBDA, ECS_TASK) or resource_type in USER_DATA_TYPES or is_workload(resource_type)


NO_PLAINTEXT_SECRETS = Rule(
    name="no-plaintext-secrets",
    description="No plaintext secrets in user data, Lambda or container environment variables, or "
    "Kubernetes env literals.",
    severity=Severity.CRITICAL,
    enforcement=EnforcementLevel.MANDATORY,
    why="Values in user data and environment variables are readable by anyone who can describe the "
    "instance, function or pod, and they land in the state file and CI logs; baking them in also ties "
    "rotation to redeploys.",
    remediation="Store the secret in Secrets Manager (or `pulumi config --secret` feeding Secrets Manager), "
    "pass its ARN, and read it at runtime; in Kubernetes use valueFrom.secretKeyRef.",
    resource_types=_secret_types,
    check=check_plaintext_secrets,
    tags=("security", "secrets"),
)

RULES = (NO_PLAINTEXT_SECRETS,)
