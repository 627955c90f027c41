"""The one "does it answer" probe of the local environment: an HTTP GET on a loopback URL.

`ready(base_url)` is what HAProxy's health check and the ALB's target group ask a replica (and what
`up`, `status`, the demo, the benchmarks and the fault tests wait for): GET /readyz answers 200.
"""

from __future__ import annotations

import urllib.error
import urllib.request

# No proxy for loopback URLs, whatever the environment says.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http_status(url: str, timeout: float = 2.0) -> int:
    """HTTP status of a GET on url; 0 when nothing answered (refused, reset, timed out)."""
    try:
        with _OPENER.open(url, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except (urllib.error.URLError, OSError):
        return 0


def answers(url: str, timeout: float = 1.0) -> bool:
    """Any HTTP answer at all: the server is up (moto's API root answers 404 to some clients)."""
    return http_status(url, timeout) != 0


def ready(base_url: str, timeout: float = 2.0) -> bool:
    """The replica (or the load balancer in front of them) reports itself ready."""
    return http_status(base_url.rstrip("/") + "/readyz", timeout) == 200
