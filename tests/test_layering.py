"""The package layering of src/dflab, read from the source with `ast` (nothing is imported).

Every `import` / `from ... import` anywhere in a module (module level, inside functions, relative ones
resolved) and every string constant that names a dflab module exactly (what registries hand to
importlib.import_module) is an edge from the importing module's top-level part of dflab (a subpackage such
as `detect`, a module such as `errors`, or `dflab` itself for the facade in __init__) to the imported one's.

Checks: the package graph has no cycles; each edge goes down the layers of docs/ARCHITECTURE.md; runtime
packages import neither eval/ nor train/ nor the public facade; detect/ and make/ do not import each other.
Edges that cannot be cut yet are listed in ALLOWED with the reason; an entry that is no longer needed fails too,
so the list only shrinks.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
FACADE = "dflab"  # the public facade: src/dflab/__init__.py

# Lower imports only from strictly lower (docs/ARCHITECTURE.md). A part of dflab not named here (a new
# package) is still checked for cycles; give it a layer when it lands.
LAYERS: dict[str, int] = {
    "errors": 0,
    "config": 1, "atomic": 1, "version": 1, "registry": 1, "timeline": 1, "threads": 1, "lazy_modules": 1,
    "worker_protocol": 0,  # the pipe protocol of a child process that runs one model (standard library only)
    "worker_process": 1,  # the parent side of that child (errors and worker_protocol)
    "worker_commands": 1,  # the command lines of the model children (errors only)
    "storage": 1,  # the Database interface the stores are built on (errors only)
    "media": 2,
    "faces": 3, "audio": 3, "samples": 3,
    "provenance": 4,
    "shallow": 5,
    "detect": 6,
    "make": 7,
    "report": 8,
    "lab": 8,  # dflab.lab: the public name of provenance.lab.Lab, for the facade and the shells
    FACADE: 9,
    "eval": 10,
    "train": 11,  # may use eval's manifests and metrics; eval never imports train
    "serve": 12, "scale": 12,
    "cli": 13,  # the `dflab` command starts the other shells (`dflab serve`)
    "__main__": 14,
}  # fmt: skip
RUNTIME = ("media", "faces", "audio", "detect", "shallow", "provenance", "make", "report")

# (importing module, imported part of dflab) -> why it is still there. Each is a file another change owns;
# delete the entry when the import goes (the test then insists).
ALLOWED: dict[tuple[str, str], str] = {
    ("dflab.audio.antispoof", "shallow"): "collect_corpus (training code) imports LIVEPORTRAIT_WITH_SPEECH from the "
    "dflab.shallow.speed_testset stub: move collect_corpus/featurise/fit to train/ and import it from "
    "dflab.train.speed_testset",
    ("dflab.shallow.speed_testset", "train"): "the forwarding stub kept only for audio.antispoof.collect_corpus; "
    "delete the file with the entry above",
    ("dflab.detect.learned.synthetic_model", "eval"): "manifest_features / leave_one_group_out (training code) use "
    "eval.manifest and eval.metrics: move them to train/, keep SyntheticImageModel in detect/",
    ("dflab.report.eval_report", "eval"): "the eval HTML report renders eval.runner's results: move eval_report and "
    "eval_plots into eval/ (eval may import report.figures)",
    ("dflab.report.eval_plots", "eval"): "ROC and reliability curves from eval.metrics: see report.eval_report",
}  # fmt: skip


@dataclass(frozen=True)
class Edge:
    module: str  # importing module, e.g. "dflab.detect.cues.blink"
    target: str  # imported module, e.g. "dflab.faces.landmarks"
    line: int
    source: str  # importing part of dflab ("detect")
    dest: str  # imported part ("faces")

    def __str__(self) -> str:
        return f"{self.module} -> {self.target} (line {self.line})"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def part_of(module: str) -> str:
    """dflab.detect.cues.blink -> detect; dflab.errors -> errors; dflab -> dflab (the facade)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else FACADE


def known_modules() -> set[str]:
    return {module_name(p) for p in (SRC / "dflab").rglob("*.py")}


def imports_of(path: Path, modules: set[str]) -> list[tuple[str, int]]:
    """(imported dflab module, line) for every import statement and module-naming string in the file."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base_name = ".".join(base + ([node.module] if node.module else []))
            else:
                base_name = node.module or ""
            # `from dflab import errors` imports the module dflab.errors, not the facade
            for alias in node.names:
                sub = f"{base_name}.{alias.name}"
                found.append((sub if sub in modules else base_name, node.lineno))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith("dflab."):
            if node.value in modules:  # (a bare "dflab" string is the product's name, not an import)
                found.append((node.value, node.lineno))
    return [(target, line) for target, line in found if target == FACADE or target.startswith("dflab.")]


def collect_edges(root: Path = SRC / "dflab") -> list[Edge]:
    modules = known_modules()
    edges = []
    for path in sorted(root.rglob("*.py")):
        module = module_name(path)
        for target, line in imports_of(path, modules):
            source, dest = part_of(module), part_of(target)
            if source != dest:
                edges.append(Edge(module, target, line, source, dest))
    return edges


EDGES = collect_edges()


def enforced(edges: list[Edge]) -> list[Edge]:
    return [e for e in edges if (e.module, e.dest) not in ALLOWED]


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the directed graph as [a, b, ..., a], or None."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = finished
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def _graph(edges: list[Edge]) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = defaultdict(set)
    for e in edges:
        graph[e.source].add(e.dest)
    return graph


def _explain(edges: list[Edge]) -> str:
    return "\n  ".join(str(e) for e in edges)


def test_the_scanner_sees_the_imports_it_should():
    """Guards against a parser that finds nothing (then every other test here would pass vacuously)."""
    pairs = {(e.source, e.dest) for e in EDGES}
    assert {("detect", "faces"), ("faces", "media"), ("make", "provenance"), ("cli", FACADE)} <= pairs
    function_level = [e for e in EDGES if e.module == "dflab.make.disclose" and e.dest == "provenance"]
    assert function_level  # disclose imports provenance inside its functions only
    assert any(e.module == "dflab.eval.baselines" and e.target == "dflab.eval.mesonet_baseline" for e in
               collect_edges_within("eval"))  # a registry's builtin-module string counts as an import


def collect_edges_within(part: str) -> list[Edge]:
    modules = known_modules()
    out = []
    for path in sorted((SRC / "dflab" / part).rglob("*.py")):
        module = module_name(path)
        out += [Edge(module, t, line, part, part_of(t)) for t, line in imports_of(path, modules)]
    return out


def test_find_cycle_on_small_graphs():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"x": {"y"}, "y": {"y"}}) == ["y", "y"]


def test_the_package_graph_has_no_cycles():
    edges = enforced(EDGES)
    cycle = find_cycle(_graph(edges))
    if cycle:
        hops = [e for a, b in zip(cycle, cycle[1:]) for e in edges if (e.source, e.dest) == (a, b)]
        pytest.fail(f"import cycle {' -> '.join(cycle)}:\n  {_explain(hops)}")


def test_imports_go_down_the_layers():
    upward = [e for e in enforced(EDGES) if e.source in LAYERS and e.dest in LAYERS
              and LAYERS[e.dest] >= LAYERS[e.source]]  # fmt: skip
    assert not upward, "imports that point up (or sideways) in LAYERS:\n  " + _explain(upward)


def test_runtime_never_imports_eval_train_or_the_facade():
    bad = [e for e in enforced(EDGES) if e.source in RUNTIME and e.dest in ("eval", "train", FACADE)]
    assert not bad, "runtime code importing eval/, train/ or the facade:\n  " + _explain(bad)


def test_detect_and_make_do_not_import_each_other():
    bad = [e for e in EDGES if {e.source, e.dest} == {"detect", "make"}]
    assert not bad, _explain(bad)


def test_every_allowed_edge_still_exists():
    present = {(e.module, e.dest) for e in EDGES}
    stale = [key for key in ALLOWED if key not in present]
    assert not stale, f"remove these from ALLOWED, the imports are gone: {stale}"
