"""Offline gate benchmark: prints figures and writes bench/results/gate.json.

- cold: `python -m policies.gate --stack prod` in a fresh process, wall time and peak RSS (median of runs);
  the gate runs the program in a child process (the program's own interpreter, here the repository's
  .venv) and counts its CPU time too;
- floor: a process that only imports the modules the gate loads for that stack (both its processes:
  the SDK and provider modules the program imports, the engine, the pack and the reports), measured
  alternately with one stack and all stacks in the same invocation, so that all see the same
  machine load; printed twice: ending as any process does, and ending without the interpreter's
  teardown as the gate's own processes do (the stricter comparison);
- all stacks: `python -m policies.gate --all-stacks` (the first stack in the child, the others in
  processes forked from it, side by side) next to one stack;
- warm: the pack's evaluation of an already captured program, per resource (CPU time, best of repeats;
  program capture is CPU time too);
- growth: synthetic programs of N = 100, 300, 1000 resources, cold wall time and warm evaluation per N.

Usage: python -m bench.gate [--runs 3] [--sizes 100,300,1000] [--stack prod]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.results_file import write_results

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "results" / "gate.json"

SYNTHETIC_MAIN = """
import json
import pulumi_aws as aws
import pulumi_kubernetes as k8s

N = {n}
made = 0
i = 0
while made < N:
    kind = i % 6
    if kind == 0:
        aws.ec2.SecurityGroup(f"sg-{{i}}", ingress=[aws.ec2.SecurityGroupIngressArgs(
            protocol="tcp", from_port=443, to_port=443, cidr_blocks=["0.0.0.0/0"])])
    elif kind == 1:
        dlq = aws.sqs.Queue(f"dlq-{{i}}")
        made += 1
        if made < N:
            aws.sqs.Queue(f"q-{{i}}", redrive_policy=dlq.arn.apply(
                lambda arn: json.dumps({{"deadLetterTargetArn": arn, "maxReceiveCount": 5}})))
    elif kind == 2:
        aws.lb.TargetGroup(f"tg-{{i}}", port=8000, protocol="HTTP", vpc_id="vpc-1")
    elif kind == 3:
        bucket = aws.s3.Bucket(f"b-{{i}}")
        made += 1
        if made < N:
            aws.s3.BucketPublicAccessBlock(f"pab-{{i}}", bucket=bucket.id, block_public_acls=True,
                block_public_policy=True, ignore_public_acls=True, restrict_public_buckets=True)
    elif kind == 4:
        aws.ec2.LaunchTemplate(f"lt-{{i}}", image_id="ami-1", metadata_options={{
            "http_tokens": "required", "http_put_response_hop_limit": 1}},
            user_data="IyEvYmluL3NoCmVjaG8gaGVsbG8K")
    else:
        k8s.apps.v1.Deployment(f"d-{{i}}", spec={{"selector": {{"matchLabels": {{"app": "x"}}}},
            "template": {{"metadata": {{"labels": {{"app": "x"}}}},
                         "spec": {{"containers": [{{"name": "c", "image": "x:1"}}]}}}}}})
    made += 1
    i += 1
"""


# Prints every module a gate run loads for the given stacks, in both its processes: the program run
# under the engine (as in the child) followed by the judging side (as in the gate's own process).
# The program's own modules are left out: importing them would run the program.
_MODULES_OF_A_RUN = """
import contextlib, io, json, os, sys, warnings
warnings.simplefilter("ignore")
from policies.gate.mockengine import run_program
from policies.gate.mockengine import child  # noqa: F401
with contextlib.redirect_stdout(io.StringIO()):
    for stack in sys.argv[1:]:
        run_program(".", stack)
import policies.gate.__main__, policies.gate.report, policies.gate.program_process, policies.pack  # noqa: E401
program = os.path.abspath("infra")
print(json.dumps(sorted(
    name for name, module in list(sys.modules.items())
    if module is not None and name != "__main__"
    and not (getattr(module, "__file__", None) or "").startswith(program)
)))
"""

_IMPORT_ONLY = """
import importlib, json, os, sys, warnings
warnings.simplefilter("ignore")
for name in json.load(open(sys.argv[1])):
    try:
        importlib.import_module(name)
    except Exception:
        pass
if sys.argv[2:] == ["--no-teardown"]:
    os._exit(0)
"""


def _modules_of_a_run(stacks: list[str], directory: Path) -> Path:
    out = subprocess.run(
        [sys.executable, "-c", _MODULES_OF_A_RUN, *stacks], cwd=ROOT, capture_output=True, text=True, check=True
    )
    path = directory / f"modules-{'-'.join(stacks)}.json"
    path.write_text(out.stdout.strip().splitlines()[-1])
    return path


# The synthetic programs name no virtualenv: the gate runs them with the `python3` first on PATH, as
# the Pulumi CLI would, so the benchmark runs with its own virtualenv activated.
_ACTIVATED = {
    **os.environ,
    "PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""),
    "VIRTUAL_ENV": str(Path(sys.executable).parent.parent),
}


def _cold(args: list[str], runs: int, command: list[str] | None = None) -> dict[str, Any]:
    walls: list[float] = []
    cpus: list[float] = []
    rss: list[float] = []
    codes: set[int] = set()
    for _ in range(runs):
        start = time.perf_counter()
        proc = subprocess.Popen(
            command or [sys.executable, "-m", "policies.gate", *args, "--format", "json"],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=_ACTIVATED,
        )
        # wait4's usage covers the gate's child (the program's interpreter) too: it waits for it.
        _, status, usage = os.wait4(proc.pid, 0)
        walls.append(time.perf_counter() - start)
        cpus.append(usage.ru_utime + usage.ru_stime)
        rss.append(usage.ru_maxrss / 1024)  # Linux reports KiB
        codes.add(os.waitstatus_to_exitcode(status))
        proc.returncode = os.waitstatus_to_exitcode(status)
    return {
        "wall_s_median": round(statistics.median(walls), 3),
        "wall_s_min": round(min(walls), 3),
        # CPU seconds do not depend on what else the machine runs; on an idle machine wall ~ CPU.
        "cpu_s_median": round(statistics.median(cpus), 3),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "peak_rss_mb": round(max(rss), 1),
        "exit_codes": sorted(codes),
        "runs": runs,
    }


def _side_by_side(commands: list[list[str]], runs: int) -> list[dict[str, Any]]:
    """The commands, alternating run by run, so that a change in machine load hits them alike."""
    samples: list[list[dict[str, Any]]] = [[] for _ in commands]
    for _ in range(runs):
        for i, command in enumerate(commands):
            samples[i].append(_cold([], 1, command))
    return [_merge(s) for s in samples]


def _merge(samples: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "wall_s_median": round(statistics.median(s["wall_s_median"] for s in samples), 3),
        "wall_s_min": round(min(s["wall_s_min"] for s in samples), 3),
        "cpu_s_median": round(statistics.median(s["cpu_s_median"] for s in samples), 3),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "peak_rss_mb": max(s["peak_rss_mb"] for s in samples),
        "exit_codes": sorted({c for s in samples for c in s["exit_codes"]}),
        "runs": len(samples),
    }


def _warm(program: Path, stack: str, repeats: int) -> dict[str, Any]:
    """Program capture once, then the pack's evaluation repeated; returns per-resource cost."""
    import warnings

    warnings.simplefilter("ignore")
    from policies.gate.config import reconcile
    from policies.gate.evaluate import evaluate
    from policies.gate.mockengine import run_program
    from policies.pack import PACK_ENFORCEMENT, POLICIES

    devnull = open(os.devnull, "w")  # noqa: SIM115 - the program's prints are not part of the figures
    saved, sys.stdout = sys.stdout, devnull
    try:
        cpu_start = time.process_time()
        run = run_program(program, stack)
        capture = time.process_time() - cpu_start
    finally:
        sys.stdout = saved
        devnull.close()
    resources = run.resources
    settings = reconcile(POLICIES, PACK_ENFORCEMENT, None)
    evaluate(resources, POLICIES, settings, run.project, stack)  # warm-up
    walls, cpus = [], []
    for _ in range(repeats):
        start, cpu_start = time.perf_counter(), time.process_time()
        evaluate(resources, POLICIES, settings, run.project, stack)
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - cpu_start)
    # CPU time is what the evaluation costs; wall time also counts whatever else the machine runs.
    best = min(cpus)
    return {
        "resources": len(resources),
        "capture_s": round(capture, 3),
        "evaluate_s": round(best, 4),
        "evaluate_wall_s": round(min(walls), 4),
        "evaluate_ms_per_resource": round(best * 1000 / max(len(resources), 1), 4),
    }


def _synthetic(directory: Path, n: int) -> Path:
    program = directory / f"synthetic-{n}"
    program.mkdir()
    (program / "Pulumi.yaml").write_text(f"name: synthetic-{n}\nruntime: python\n")
    (program / "__main__.py").write_text(SYNTHETIC_MAIN.format(n=n))
    return program


def _warm_in_child(program: Path, stack: str, repeats: int) -> dict[str, Any]:
    # Each program's capture runs in its own process: the Pulumi runtime keeps global state.
    code = (
        "import json, sys; from pathlib import Path; from bench.gate.__main__ import _warm; "
        f"print(json.dumps(_warm(Path({str(program)!r}), {stack!r}, {repeats})))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.gate")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--sizes", default="100,300,1000")
    parser.add_argument("--stack", default="prod")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]

    results: dict[str, Any] = {
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()},
    }
    repo_program = ROOT if (ROOT / "Pulumi.yaml").is_file() else None
    if repo_program is not None:
        stacks = sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in (ROOT / "stacks").glob("Pulumi.*.yaml"))
        gate = [sys.executable, "-m", "policies.gate", "--format", "json"]
        with tempfile.TemporaryDirectory() as tmp:
            one_modules = _modules_of_a_run([args.stack], Path(tmp))
            floor_cmd = [sys.executable, "-c", _IMPORT_ONLY, str(one_modules)]
            module_count = len(json.loads(one_modules.read_text()))
            # The gate's processes end without the interpreter's teardown; so may the floor's, and the
            # stricter comparison is printed beside the plain one.
            floor, bare, one, every = _side_by_side(
                [floor_cmd, [*floor_cmd, "--no-teardown"], [*gate, "--stack", args.stack], [*gate, "--all-stacks"]],
                args.runs,
            )
        ratio = every["wall_s_median"] / max(one["wall_s_median"], 1e-9)
        cpu_ratio = every["cpu_s_median"] / max(one["cpu_s_median"], 1e-9)
        floor_ratio = one["wall_s_median"] / max(floor["wall_s_median"], 1e-9)
        floor_cpu_ratio = one["cpu_s_median"] / max(floor["cpu_s_median"], 1e-9)
        bare_ratio = one["wall_s_median"] / max(bare["wall_s_median"], 1e-9)
        results["import_floor"] = {
            "stack": args.stack,
            "modules": module_count,
            "import_only": floor,
            "import_only_no_teardown": bare,
            "one_stack": one,
            "wall_ratio": round(floor_ratio, 2),
            "cpu_ratio": round(floor_cpu_ratio, 2),
            "wall_ratio_no_teardown": round(bare_ratio, 2),
        }
        results["all_stacks"] = {
            "stacks": stacks,
            "one_stack": {"stack": args.stack, **one},
            "all_stacks_one_run": every,
            "wall_ratio": round(ratio, 2),
            "cpu_ratio": round(cpu_ratio, 2),
        }
        print(
            f"import-only floor ({args.stack}): {floor['wall_s_median']:.2f} s wall, "
            f"{floor['cpu_s_median']:.2f} s CPU | "
            f"one stack: {one['wall_s_median']:.2f} s wall, {one['cpu_s_median']:.2f} s CPU | "
            f"x{floor_ratio:.2f} wall, x{floor_cpu_ratio:.2f} CPU"
        )
        print(
            f"import-only floor ending without teardown: {bare['wall_s_median']:.2f} s wall | "
            f"one stack x{bare_ratio:.2f} wall"
        )
        print(
            f"one stack ({args.stack}): {one['wall_s_median']:.2f} s wall, {one['cpu_s_median']:.2f} s CPU | "
            f"all {len(stacks)} stacks in one run: {every['wall_s_median']:.2f} s wall, "
            f"{every['cpu_s_median']:.2f} s CPU | x{ratio:.2f} wall, x{cpu_ratio:.2f} CPU "
            f"(load {every['load_average_1m']}, medians of {args.runs})"
        )
        warm = _warm_in_child(ROOT, args.stack, args.repeats)
        results["repository"] = {"stack": args.stack, "cold": one, "warm": warm}
        print(
            f"repository stack {args.stack}: {warm['resources']} resources; cold gate "
            f"{one['wall_s_median']:.2f} s median (min {one['wall_s_min']:.2f} s, CPU {one['cpu_s_median']:.2f} s, "
            f"load {one['load_average_1m']}), peak RSS "
            f"{one['peak_rss_mb']:.0f} MB; capture {warm['capture_s']:.2f} s; evaluation "
            f"{warm['evaluate_s'] * 1000:.1f} ms = {warm['evaluate_ms_per_resource']:.3f} ms/resource"
        )

    growth: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            program = _synthetic(Path(tmp), n)
            cold = _cold(["--stack", "bench", "--program", str(program)], args.runs)
            warm = _warm_in_child(program, "bench", args.repeats)
            row: dict[str, Any] = {"n": n, "cold": cold, "warm": warm}
            growth.append(row)
            print(
                f"synthetic N={n:5d}: cold gate {cold['wall_s_median']:.2f} s (CPU {cold['cpu_s_median']:.2f} s), "
                f"peak RSS {cold['peak_rss_mb']:.0f} MB; "
                f"capture {warm['capture_s']:.2f} s ({warm['capture_s'] * 1000 / n:.2f} ms/resource); evaluation "
                f"{warm['evaluate_s'] * 1000:.1f} ms ({warm['evaluate_ms_per_resource']:.3f} ms/resource)"
            )
    if len(growth) >= 2:
        first, last = growth[0], growth[-1]
        size_ratio = last["n"] / first["n"]
        eval_ratio = last["warm"]["evaluate_s"] / max(first["warm"]["evaluate_s"], 1e-9)
        capture_ratio = last["warm"]["capture_s"] / max(first["warm"]["capture_s"], 1e-9)
        results["growth_summary"] = {
            "size_ratio": size_ratio,
            "evaluation_time_ratio": round(eval_ratio, 2),
            "capture_time_ratio": round(capture_ratio, 2),
        }
        print(
            f"growth N={first['n']}->{last['n']} (x{size_ratio:.0f}): evaluation x{eval_ratio:.1f}, "
            f"program capture x{capture_ratio:.1f}"
        )
    results["synthetic"] = growth
    write_results(RESULTS, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
