"""The house has no circles (issue 18): drawn from the imports of `medhub/` and `tabs/` with `ast`
(module-level and in-function imports alike; `if TYPE_CHECKING:` blocks are for type checkers only),
every import goes down the layers below or stays in its own layer, and no import circle exists.

An in-function import is allowed where it only defers a heavy import downwards (torch, TensorFlow);
it may not hide an import that runs back up."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# Lowest first. A module may import its own layer and the layers below it, nothing above.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("leaf", ("medhub", "medhub.constants", "medhub.errors", "medhub.limits", "medhub.i18n",
              "medhub.disclaimers", "medhub._torch_compat", "medhub.paths")),
    ("card schema", ("medhub.card_schema",)),
    ("card", ("medhub.cards",)),
    ("card writing", ("medhub.card_io", "medhub.cardblocks")),
    ("decoding and domain", ("medhub.dicom", "medhub.imaging", "medhub.urlfetch", "medhub.preprocess",
                             "medhub.explain", "medhub.abcd", "medhub.scope", "medhub.graded",
                             "medhub.scope_sets", "medhub.weights", "medhub.result_text", "medhub.caution",
                             "medhub.architectures", "medhub.architectures.*")),
    ("backends", ("medhub.backends", "medhub.backends.*")),
    ("model", ("medhub.inference",)),
    ("registry", ("medhub.registry",)),
    ("request", ("medhub.result_extras", "medhub.summary", "medhub.pipeline", "medhub.series",
                 "medhub.zerogpu")),
    ("evaluation", ("medhub.evaluation", "medhub.fingerprints", "medhub.heldout")),
    ("teaching", ("medhub.teaching", "medhub.teaching.*")),
    ("ui", ("tabs", "tabs.*")),
    ("studies", ("medhub.studies", "medhub.studies.*")),
    ("cli", ("medhub.cli", "medhub.__main__")),
]
REQUEST_PATH = ("tabs", "medhub.pipeline", "medhub.inference", "medhub.registry", "medhub.result_extras",
                "medhub.summary", "medhub.backends", "medhub.imaging", "medhub.series", "medhub.urlfetch",
                "medhub.teaching", "medhub.zerogpu")


def modules() -> dict[str, Path]:
    out = {}
    for base in ("medhub", "tabs"):
        for path in (REPO / base).rglob("*.py"):
            parts = list(path.relative_to(REPO).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = path
    return out


def _resolve(name: str, known: dict[str, Path]) -> str | None:
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def import_graph() -> dict[str, dict[str, str]]:
    """module -> {imported module: "top" or "function"} for imports between modules of medhub/ and tabs/."""
    known = modules()
    graph: dict[str, dict[str, str]] = {m: {} for m in known}
    for mod, path in known.items():
        package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]

        def visit(node: ast.AST, in_function: bool, mod: str = mod, package: str = package) -> None:
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                    for other in child.orelse:
                        visit(other, in_function)
                    continue
                nested = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
                targets: list[str] = []
                if isinstance(child, ast.Import):
                    targets = [a.name for a in child.names]
                elif isinstance(child, ast.ImportFrom):
                    base = child.module or ""
                    if child.level:
                        pkg = package
                        for _ in range(child.level - 1):
                            pkg = pkg.rpartition(".")[0]
                        base = f"{pkg}.{base}" if base else pkg
                    # `from pkg import module` imports the module; `from module import name` the module
                    targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in child.names]
                for target in targets:
                    found = _resolve(target, known)
                    if found and found != mod:
                        kind = "function" if nested else "top"
                        if graph[mod].get(found) != "top":
                            graph[mod][found] = kind
                visit(child, nested)

        visit(ast.parse(path.read_text(encoding="utf-8")), False)
    return graph


def layer_of(module: str) -> int:
    for rank, (_, patterns) in enumerate(LAYERS):
        for pattern in patterns:
            if module == pattern or (pattern.endswith(".*") and module.startswith(pattern[:-1])):
                return rank
    raise AssertionError(f"{module} belongs to no layer of tests/test_import_graph.py LAYERS: place it")


def cycles(graph: dict[str, dict[str, str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def strong(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in graph:
        if v not in index:
            strong(v)
    return found


def test_medhub_and_tabs_have_no_import_circle():
    assert cycles(import_graph()) == []


def test_every_import_goes_down_the_layers():
    graph = import_graph()
    upward = [
        f"{mod} ({LAYERS[layer_of(mod)][0]}) -> {target} ({LAYERS[layer_of(target)][0]}, {kind})"
        for mod, targets in sorted(graph.items())
        for target, kind in sorted(targets.items())
        if layer_of(target) > layer_of(mod)
    ]
    assert upward == []


def test_nothing_on_the_request_path_imports_the_studies():
    graph = import_graph()
    offenders = [
        f"{mod} -> {target}"
        for mod, targets in graph.items()
        if mod.startswith(REQUEST_PATH)
        for target in targets
        if target.startswith("medhub.studies")
    ]
    assert offenders == []
    app = ast.parse((REPO / "app.py").read_text(encoding="utf-8"))
    names = [n.module or "" for n in ast.walk(app) if isinstance(n, ast.ImportFrom)]
    names += [a.name for n in ast.walk(app) if isinstance(n, ast.Import) for a in n.names]
    assert not [n for n in names if n.startswith("medhub.studies")]


def test_every_module_has_a_layer():
    """A new module of medhub/ or tabs/ is placed in LAYERS (teaching, series, the MCP helpers, ...)."""
    for module in modules():
        layer_of(module)


def test_the_graph_sees_the_imports():
    """The graph is not empty by mistake: known edges are in it."""
    graph = import_graph()
    assert graph["medhub.pipeline"]["medhub.inference"] == "top"
    assert "medhub.card_schema" in graph["medhub.cards"]
    assert "medhub.summary" in graph["medhub.series"]  # the series' summary is built where a request's is
    assert "medhub.caution" in graph["medhub.summary"] and "medhub.result_text" in graph["medhub.summary"]
    assert "medhub.teaching.deck" in graph["tabs.classmode"]
    assert "medhub.studies.bench.load" in graph["medhub.studies.bench.classroom"]
