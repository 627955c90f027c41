"""The stateless-guard policy pack as the Pulumi CLI runs it, from this checkout or published.

The CLI's Python language host starts `<pack virtualenv>/bin/python -u -m pulumi.policy ENGINE PACKDIR`
with the pack directory as working directory (pulumi/pulumi sdk/python/cmd/pulumi-language-python/
main.go, RunPlugin: lines 1611-1617 and 1638-1639), and `pulumi.policy` runs this file with
`runpy.run_path(PACKDIR)` (sdk/python/lib/pulumi/policy/__main__.py). This file is therefore a
top-level script, and the directory is called `policies` only in the checkout: a published pack is
unpacked into `~/.pulumi/policies/<org>/pulumi-analyzer-stateless-guard-v<version>/`
(pkg/backend/httpstate/policypack.go installRequiredPolicy; sdk/go/common/workspace/plugins.go
GetPolicyPath). So the directory is imported as a package under a name of its own: `pack.py` and
`rules/` keep their relative imports, and nothing outside this directory is needed besides
`requirements.txt`. Nothing imports this file (a PolicyPack serves gRPC and blocks).
"""

import importlib
import importlib.util
import sys
from pathlib import Path

from pulumi_policy import PolicyPack

_PACKAGE = "stateless_guard"
_DIR = Path(__file__).resolve().parent


def _pack_module():
    spec = importlib.util.spec_from_file_location(
        _PACKAGE, _DIR / "__init__.py", submodule_search_locations=[str(_DIR)]
    )
    if spec is None or spec.loader is None:
        raise ImportError(f"{_DIR}: not importable as a package")
    package = importlib.util.module_from_spec(spec)
    sys.modules[_PACKAGE] = package
    spec.loader.exec_module(package)
    return importlib.import_module(f"{_PACKAGE}.pack")


_pack = _pack_module()

PolicyPack(
    _pack.PACK_NAME,
    policies=_pack.POLICIES,
    enforcement_level=_pack.PACK_ENFORCEMENT,
    description=_pack.PACK_DESCRIPTION,
)
