"""Instance user data that runs the app container.

The script installs Docker and a systemd unit. Every start of the unit reads the app's environment
from one SSM parameter (non-secret values and secret ARNs only), logs in to ECR with the instance
role, and runs the image. Nothing secret is ever written into the user data itself.

The environment itself is read at boot, so the script carries its digest (`environment_digest`): any
change of any variable changes the user data, hence a new launch template version, hence an instance
refresh that boots instances reading the new values. Without it a new Redis endpoint or keep-alive
would reach only instances that happen to be replaced.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any

_SAFE = {
    "region": re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$"),
    # By digest (what the program passes) or by tag.
    "image": re.compile(r"^[a-z0-9.-]+(:\d+)?/[a-z0-9._/-]+(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}|@sha256:[0-9a-f]{64})$"),
    "parameter": re.compile(r"^/[A-Za-z0-9_./-]+$"),
    "log_group": re.compile(r"^[A-Za-z0-9_./#-]+$"),
    "environment_digest": re.compile(r"^[0-9a-f]{64}$"),
}

CONTAINER_NAME = "app"
UNIT_NAME = "stateless-app.service"
ENV_FILE = "/run/stateless-app/app.env"


def _check(kind: str, value: str) -> str:
    if not _SAFE[kind].match(value):
        raise ValueError(f"user data: {kind} {value!r} has characters that are unsafe in a shell script")
    return value


def environment_digest(environment: Mapping[str, Any]) -> str:
    """sha256 of the environment as the parameter holds it (keys sorted), so equal maps give equal digests."""
    return hashlib.sha256(json.dumps(dict(environment), sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def render_user_data(*, region: str, image: str, parameter_name: str, log_group: str,
                     environment_digest: str | None = None) -> str:
    """The cloud-init shell script for an app instance."""
    region = _check("region", region)
    stamp = ""
    if environment_digest is not None:
        stamp = f"# app environment sha256:{_check('environment_digest', environment_digest)}\n"
    image = _check("image", image)
    parameter_name = _check("parameter", parameter_name)
    log_group = _check("log_group", log_group)
    registry = image.split("/", 1)[0]
    return f"""#!/bin/bash
{stamp}set -euo pipefail
dnf install -y docker
systemctl enable --now docker

cat > /usr/local/bin/stateless-app-start <<'SCRIPT'
#!/bin/bash
set -euo pipefail
install -d -m 0700 "$(dirname {ENV_FILE})"
aws ssm get-parameter --region {region} --name {parameter_name} --query Parameter.Value --output text \\
  | python3 -c 'import json, sys; print("".join(f"{{k}}={{v}}\\n" for k, v in json.load(sys.stdin).items()), end="")' \\
  > {ENV_FILE}
aws ecr get-login-password --region {region} | docker login --username AWS --password-stdin {registry}
docker pull {image}
# Host networking keeps the container one hop from the instance metadata service, so the
# instance role works with a metadata hop limit of 1 (no other container can reach it).
exec docker run --rm --name {CONTAINER_NAME} --network host --read-only \\
  --tmpfs /tmp:rw,noexec,nosuid,size=16m \\
  --env-file {ENV_FILE} \\
  --log-driver awslogs --log-opt awslogs-region={region} --log-opt awslogs-group={log_group} \\
  {image}
SCRIPT
chmod 0755 /usr/local/bin/stateless-app-start

cat > /etc/systemd/system/{UNIT_NAME} <<'UNIT'
[Unit]
Description=stateless reference app
Requires=docker.service
After=docker.service network-online.target

[Service]
ExecStartPre=-/usr/bin/docker rm -f {CONTAINER_NAME}
ExecStart=/usr/local/bin/stateless-app-start
ExecStop=/usr/bin/docker stop --time 30 {CONTAINER_NAME}
Restart=always
RestartSec=5

[Install]
WantedBy=multi-user.target
UNIT
systemctl daemon-reload
systemctl enable --now {UNIT_NAME}
"""
