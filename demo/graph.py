"""The planned resource graph of a stack, drawn with Graphviz.

Runs the Pulumi program under the mock engine (no CLI, no credentials), then turns what it
registered into DOT: every component resource becomes a cluster holding its children, every custom
resource a node coloured by AWS service, and every dependency an edge from the resource depended on
to the one that depends on it. `dot` renders the DOT to SVG or PNG.

    python -m demo.graph --stack prod --output docs/stack-graph.svg
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

REPO_ROOT = Path(__file__).resolve().parent.parent
FORMATS = ("svg", "png", "dot")

# Resources that say nothing about the architecture: the stack itself and provider instances.
_HIDDEN_PREFIXES = ("pulumi:pulumi:Stack", "pulumi:providers:")

# Fill colours by service family, so the picture reads as network / compute / data / security.
_PALETTE = {
    "ec2": "#dbeafe",
    "lb": "#bfdbfe",
    "alb": "#bfdbfe",
    "autoscaling": "#c7d2fe",
    "eks": "#c7d2fe",
    "kubernetes": "#e0e7ff",
    "lambda": "#fde68a",
    "apigatewayv2": "#fed7aa",
    "rds": "#bbf7d0",
    "elasticache": "#bbf7d0",
    "s3": "#d9f99d",
    "sqs": "#fef08a",
    "iam": "#fecaca",
    "kms": "#fbcfe8",
    "secretsmanager": "#fbcfe8",
    "cloudwatch": "#e5e7eb",
    "acm": "#fecaca",
    "wafv2": "#fecaca",
}
_DEFAULT_FILL = "#f3f4f6"


class GraphError(RuntimeError):
    """The graph cannot be drawn (the program failed, dot is missing or refused the input)."""


class ResourceLike(Protocol):
    """What the renderer needs from a captured resource (policies.gate.mockengine.Resource has it)."""

    @property
    def urn(self) -> str: ...
    @property
    def type(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def parent(self) -> str | None: ...
    @property
    def dependencies(self) -> Sequence[str]: ...
    @property
    def property_dependencies(self) -> object: ...
    @property
    def custom(self) -> bool: ...


@dataclass(frozen=True)
class Graph:
    """The drawable part of a plan: nodes, clusters (components) and dependency edges, by URN."""

    nodes: tuple[str, ...]  # custom resources
    clusters: tuple[str, ...]  # component resources
    parent: dict[str, str | None]  # urn -> enclosing cluster urn (None at top level)
    edges: tuple[tuple[str, str], ...]  # (dependency, dependent)
    labels: dict[str, tuple[str, str]]  # urn -> (name, type)


def short_type(type_token: str) -> str:
    """`aws:ec2/subnet:Subnet` -> `ec2.Subnet`; `stateless:network:Network` -> `Network`."""
    parts = type_token.split(":")
    if len(parts) != 3:
        return type_token
    package, module, kind = parts
    if package == "aws" or package == "kubernetes":
        family = module.split("/")[0]
        return f"{family}.{kind}"
    return kind


def service_of(type_token: str) -> str:
    parts = type_token.split(":")
    if len(parts) != 3:
        return ""
    package, module, _ = parts
    if package == "kubernetes":
        return "kubernetes"
    return module.split("/")[0] if package == "aws" else package


def _hidden(type_token: str) -> bool:
    return type_token.startswith(_HIDDEN_PREFIXES)


def _all_dependencies(resource: ResourceLike) -> set[str]:
    deps = set(resource.dependencies or ())
    prop_deps = resource.property_dependencies
    if isinstance(prop_deps, dict):
        for urns in prop_deps.values():
            deps.update(urns or ())
    return deps


def build_graph(resources: Iterable[ResourceLike]) -> Graph:
    """Clusters from parents, edges from dependencies; hidden resources are skipped and their
    children are lifted to the nearest visible ancestor."""
    every = list(resources)
    by_urn = {r.urn: r for r in every}
    # Sorted so that the same plan always gives the same DOT (registration order varies between runs).
    visible = sorted((r for r in every if not _hidden(r.type)), key=lambda r: r.urn)
    visible_urns = {r.urn for r in visible}

    def enclosing(urn: str | None) -> str | None:
        seen: set[str] = set()
        while urn is not None and urn not in seen:
            seen.add(urn)
            if urn in visible_urns and not by_urn[urn].custom:
                return urn
            urn = by_urn[urn].parent if urn in by_urn else None
        return None

    parent = {r.urn: enclosing(r.parent) for r in visible}
    clusters = tuple(r.urn for r in visible if not r.custom)
    nodes = tuple(r.urn for r in visible if r.custom)

    edges: list[tuple[str, str]] = []
    seen_edges: set[tuple[str, str]] = set()
    for resource in visible:
        for dep in sorted(_all_dependencies(resource)):
            if dep not in visible_urns or dep == resource.urn:
                continue
            # A dependency on one's own enclosing component is just the nesting the cluster draws.
            if not by_urn[dep].custom and _is_ancestor(dep, resource.urn, parent):
                continue
            edge = (dep, resource.urn)
            if edge not in seen_edges:
                seen_edges.add(edge)
                edges.append(edge)
    labels = {r.urn: (r.name, r.type) for r in visible}
    return Graph(nodes=nodes, clusters=clusters, parent=parent, edges=tuple(sorted(edges)), labels=labels)


def _is_ancestor(candidate: str, urn: str, parent: dict[str, str | None]) -> bool:
    current = parent.get(urn)
    seen: set[str] = set()
    while current is not None and current not in seen:
        if current == candidate:
            return True
        seen.add(current)
        current = parent.get(current)
    return False


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def to_dot(graph: Graph, *, title: str = "") -> str:
    """DOT text for the graph: clusters nest as the components do; edges into a component point at
    its cluster border (compound edges through an invisible anchor node)."""
    ids: dict[str, str] = {}
    for index, urn in enumerate(graph.nodes):
        ids[urn] = f"n{index}"
    cluster_ids = {urn: f"cluster_{index}" for index, urn in enumerate(graph.clusters)}
    anchors = {urn: f"a{index}" for index, urn in enumerate(graph.clusters)}

    children: dict[str | None, list[str]] = defaultdict(list)
    for urn in (*graph.clusters, *graph.nodes):
        children[graph.parent.get(urn)].append(urn)

    lines = [
        "digraph stack {",
        "  graph [rankdir=LR, compound=true, fontname=Helvetica, fontsize=12, nodesep=0.25, ranksep=0.6"
        + (f", label={_quote(title)}, labelloc=t, fontsize=16" if title else "") + "];",
        "  node [shape=box, style=\"rounded,filled\", fontname=Helvetica, fontsize=10, color=\"#6b7280\"];",
        "  edge [color=\"#6b728099\", arrowsize=0.6];",
    ]

    def emit(container: str | None, indent: str) -> None:
        for urn in children.get(container, []):
            name, type_token = graph.labels[urn]
            if urn in cluster_ids:
                lines.append(f"{indent}subgraph {cluster_ids[urn]} {{")
                lines.append(
                    f"{indent}  label={_quote(f'{name} ({short_type(type_token)})')}; style=\"rounded,dashed\"; "
                    "color=\"#9ca3af\"; fontsize=11;"
                )
                lines.append(f"{indent}  {anchors[urn]} [shape=point, style=invis, width=0, height=0, label=\"\"];")
                emit(urn, indent + "  ")
                lines.append(f"{indent}}}")
            else:
                fill = _PALETTE.get(service_of(type_token), _DEFAULT_FILL)
                label = f"{name}\n{short_type(type_token)}"
                lines.append(f"{indent}{ids[urn]} [label={_quote(label)}, fillcolor=\"{fill}\"];")

    emit(None, "  ")

    for dep, dependent in graph.edges:
        source = ids.get(dep) or anchors[dep]
        target = ids.get(dependent) or anchors[dependent]
        attrs = []
        if dep in cluster_ids:
            attrs.append(f"ltail={cluster_ids[dep]}")
        if dependent in cluster_ids:
            attrs.append(f"lhead={cluster_ids[dependent]}")
        suffix = f" [{', '.join(attrs)}]" if attrs else ""
        lines.append(f"  {source} -> {target}{suffix};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def render(dot_text: str, output: Path, fmt: str | None = None) -> Path:
    """Write the DOT (fmt "dot") or let Graphviz render it to svg/png."""
    fmt = fmt or output.suffix.lstrip(".").lower() or "svg"
    if fmt not in FORMATS:
        raise GraphError(f"unknown output format {fmt!r}: use one of {', '.join(FORMATS)}")
    output.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "dot":
        output.write_text(dot_text)
        return output
    binary = shutil.which("dot")
    if binary is None:
        raise GraphError("Graphviz is not installed (no `dot`): run `apt-get install graphviz`")
    result = subprocess.run(
        [binary, f"-T{fmt}", "-o", str(output)], input=dot_text.encode(), capture_output=True, check=False, timeout=120
    )
    if result.returncode != 0:
        raise GraphError(f"dot failed (exit {result.returncode}): {result.stderr.decode(errors='replace').strip()}")
    return output


def plan_graph(stack: str, program: Path | str = REPO_ROOT) -> tuple[Graph, str]:
    """Run the program for `stack` under the mock engine; returns the graph and the project name."""
    from policies.gate.mockengine import ProgramError, ProjectError, run_program

    try:
        run = run_program(program, stack)
    except (ProgramError, ProjectError) as exc:
        raise GraphError(f"stack {stack}: {exc}") from exc
    return build_graph(run.resources), run.project


def draw(stack: str, output: Path, *, program: Path | str = REPO_ROOT, fmt: str | None = None) -> Graph:
    graph, project = plan_graph(stack, program)
    title = f"{project} / {stack}: {len(graph.nodes)} resources in {len(graph.clusters)} components"
    render(to_dot(graph, title=title), output, fmt)
    return graph


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m demo.graph", description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack", required=True, help="stack name (dev, staging, prod)")
    parser.add_argument("--output", required=True, type=Path, help="file to write (.svg, .png or .dot)")
    parser.add_argument("--program", default=str(REPO_ROOT), help="Pulumi project directory (default: this repository)")
    parser.add_argument("--format", choices=FORMATS, help="output format (default: from the file extension)")
    args = parser.parse_args(argv)
    try:
        graph = draw(args.stack, args.output, program=args.program, fmt=args.format)
    except GraphError as exc:
        print(f"demo.graph: {exc}", file=sys.stderr)
        return 2
    print(f"{args.output}: {len(graph.nodes)} resources, {len(graph.clusters)} components, {len(graph.edges)} edges")
    return 0


if __name__ == "__main__":
    sys.exit(main())
