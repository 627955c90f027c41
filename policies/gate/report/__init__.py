"""The gate's report formats, one module each: `text` (grouped by resource, with fixes and notes),
`json` (schema version 2, see json.py and policies/README.md), `sarif` (SARIF 2.1.0 for code
scanning) and `github` (workflow-command annotations); `common` holds the summary counts and where a
finding is located."""

from .common import TOOL_NAME, TOOL_VERSION, repository_root, summary
from .github import as_github
from .json import SCHEMA_VERSION, as_json, as_json_many
from .sarif import SARIF_SCHEMA, SECURITY_SEVERITY, SRCROOT, as_sarif
from .text import as_text, as_text_many

__all__ = [
    "SARIF_SCHEMA",
    "SCHEMA_VERSION",
    "SECURITY_SEVERITY",
    "SRCROOT",
    "TOOL_NAME",
    "TOOL_VERSION",
    "as_github",
    "as_json",
    "as_json_many",
    "as_sarif",
    "as_text",
    "as_text_many",
    "repository_root",
    "summary",
]
