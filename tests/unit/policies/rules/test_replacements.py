"""The replace-forcing table is current: made for the installed pulumi-aws."""

from __future__ import annotations

import importlib.metadata

from policies.rules import replacements


def test_the_table_was_made_for_the_installed_pulumi_aws():
    # The generator needs the provider's source; CI checks the version the table records instead.
    assert importlib.metadata.version("pulumi_aws") == replacements.PULUMI_AWS_VERSION, (
        "pulumi-aws changed: regenerate policies/rules/replacements.py with python -m policies.tools.replace_table"
    )


def test_every_entry_names_its_source_and_only_auto_names_what_forces_a_replacement():
    for token, entry in replacements.REPLACE_ON.items():
        assert entry["replaceOn"], token
        assert entry["source"], token
        assert set(entry.get("autoNamed", ())) <= set(entry["replaceOn"]), token
