"""The kubeconfig the program builds carries no credential: the provider fetches short-lived tokens."""

from __future__ import annotations

import json

from infra.lib import kubeconfig


def test_kubeconfig_authenticates_with_short_lived_tokens_only() -> None:
    doc = json.loads(kubeconfig.render(cluster_name="c", endpoint="https://e", ca_data="Q0E=", region="eu-west-1"))
    [user] = doc["users"]
    assert set(user["user"]) == {"exec"}
    assert user["user"]["exec"]["args"] == ["eks", "get-token", "--cluster-name", "c", "--region", "eu-west-1",
                                            "--output", "json"]
    assert doc["clusters"][0]["cluster"] == {"server": "https://e", "certificate-authority-data": "Q0E="}
    assert doc["current-context"] == "c"
