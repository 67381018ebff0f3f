"""The package layout of issue #11 item 8: module size, layers, no import cycles, shims.

Layers (a module may import only from its own layer or a lower one; imports inside
functions count too), as the layout plan gives them:

- L0 base:     exceptions, units, qa, variables, _numba, _seed, _workers
- L1 io+acct:  io.*, carbon
- L2 science:  chemistry.*, flux.*, mapping.*, hydrology, sink, scenario, plots.*
- L3 flows:    workflows.*, report, config
- L4 entry:    cli.*, karstsink/__init__, and the shims (karstsink.pipeline,
               karstsink.flux.pipeline, karstsink.samples, karstsink.flux.samples)

A *shim* is a module whose top level is only a docstring, imports and ``__all__``: it
re-exports names that live elsewhere. Shims are exempt from the layer and cycle checks
of their own imports; a module importing a shim is checked against the shim's layer.
The imports are read with :mod:`ast` (nothing is imported), relative imports resolved
against the importing module's package.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "karstsink"
ROOT = "karstsink"

#: Hard limit of the layout plan (the target is ~500 lines).
MAX_LINES = 550

#: The layer table of the layout plan; a module belongs to the longest entry it starts
#: with (``karstsink.flux.pipeline`` is a shim in L4 although ``karstsink.flux`` is L2).
LAYERS: dict[int, tuple[str, ...]] = {
    0: ("karstsink.exceptions", "karstsink.units", "karstsink.qa", "karstsink._qa_core",
        "karstsink.variables",
        "karstsink._numba", "karstsink._seed", "karstsink._checks", "karstsink._workers",
        "karstsink.data"),  # not in the plan: the shipped tables (importlib.resources), no code
    1: ("karstsink.io", "karstsink.carbon"),
    2: ("karstsink.chemistry", "karstsink.flux", "karstsink.mapping", "karstsink.hydrology",
        "karstsink.sink", "karstsink.scenario", "karstsink.trajectory", "karstsink.plots"),
    3: ("karstsink.workflows", "karstsink.report", "karstsink.config"),
    4: ("karstsink.cli", ROOT,
        "karstsink.__main__",  # not in the plan: `python -m karstsink`, an entry point
        "karstsink._entry",  # the console script (signals handled from its start)
        "karstsink.pipeline", "karstsink.flux.pipeline", "karstsink.samples",
        "karstsink.flux.samples"),
}
LAYER_NAMES = {0: "L0 base", 1: "L1 io+acct", 2: "L2 science", 3: "L3 flows", 4: "L4 entry"}

#: The compatibility shims the layout plan keeps (old public import paths).
SHIMS = ("karstsink.pipeline", "karstsink.flux.pipeline", "karstsink.samples",
         "karstsink.flux.samples")

#: Names of karstsink/__init__ any module may read: the version string (the package root
#: imports nothing at import time, so reading it adds no dependency on a higher layer).
ROOT_CONSTANTS = {"__version__"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES: dict[str, Path] = {
    _module_name(p): p for p in sorted(SRC.rglob("*.py")) if "__pycache__" not in p.parts
}


def _layer(module: str) -> int | None:
    best, layer = -1, None
    for level, entries in LAYERS.items():
        for entry in entries:
            exact_only = entry == ROOT  # the root package is not a prefix of everything
            if module == entry or (not exact_only and module.startswith(entry + ".")):
                if len(entry) > best:
                    best, layer = len(entry), level
    return layer


def _tree(module: str) -> ast.Module:
    return ast.parse(MODULES[module].read_text(encoding="utf-8"), str(MODULES[module]))


def _is_shim(module: str) -> bool:
    """Top level only a docstring, imports and ``__all__``."""
    for i, node in enumerate(_tree(module).body):
        if i == 0 and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) \
                and isinstance(node.value.value, str):
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            continue
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if all(isinstance(t, ast.Name) and t.id == "__all__" for t in targets):
                continue
        return False
    return True


def _type_checking_lines(tree: ast.Module) -> set[int]:
    """Line numbers of the statements under ``if TYPE_CHECKING:`` (never executed)."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If):
            test = node.test
            name = test.id if isinstance(test, ast.Name) else getattr(test, "attr", None)
            if name == "TYPE_CHECKING":
                for stmt in node.body:
                    for sub in ast.walk(stmt):
                        if hasattr(sub, "lineno"):
                            lines.add(sub.lineno)
    return lines


def _imports(module: str) -> list[tuple[str, int, bool]]:
    """``(imported karstsink module, line, type_only)`` for every import of ``module``,
    module-level or inside a function; an unresolvable target is returned as it is
    written (and reported by :func:`test_every_import_resolves`)."""
    tree = _tree(module)
    type_only = _type_checking_lines(tree)
    package = module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]
    found: list[tuple[str, int, bool]] = []

    def add(target: str, line: int) -> None:
        found.append((target, line, line in type_only))

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == ROOT or alias.name.startswith(ROOT + "."):
                    add(alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not (target == ROOT or target.startswith(ROOT + ".")):
                continue
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                if sub in MODULES:
                    add(sub, node.lineno)  # `from . import carbon`: the submodule
                elif target == ROOT and alias.name in ROOT_CONSTANTS:
                    continue
                else:
                    add(target, node.lineno)
        elif isinstance(node, ast.Call) and node.args \
                and getattr(node.func, "attr", getattr(node.func, "id", None)) == "import_module" \
                and isinstance(node.args[0], ast.Constant) \
                and str(node.args[0].value).startswith(ROOT + "."):
            add(str(node.args[0].value), node.lineno)
    return found


def test_every_module_is_in_the_layer_table():
    unknown = [m for m in MODULES if _layer(m) is None]
    assert not unknown, f"modules in no layer of tests/test_layout.py LAYERS: {unknown}"


def test_no_module_over_the_line_limit():
    long = {m: n for m, p in MODULES.items()
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert not long, (f"modules over {MAX_LINES} lines (split them): "
                      + ", ".join(f"{m} ({n})" for m, n in sorted(long.items())))


def test_every_import_resolves():
    broken = [f"{m}:{line} imports {t}" for m in MODULES for t, line, _ in _imports(m)
              if t not in MODULES]
    assert not broken, "imports of karstsink modules that do not exist:\n" + "\n".join(broken)


def test_no_lower_layer_imports_a_higher_one():
    bad = []
    for m in MODULES:
        if _is_shim(m) or _layer(m) is None:
            continue
        for target, line, _ in _imports(m):
            if target in MODULES and (_layer(target) or 0) > _layer(m):
                bad.append(f"{m} ({LAYER_NAMES[_layer(m)]}) line {line} imports {target} "
                           f"({LAYER_NAMES[_layer(target)]})")
    assert not bad, "layer rule broken:\n" + "\n".join(bad)


def test_no_import_cycles():
    shims = {m for m in MODULES if _is_shim(m)}
    graph = {m: sorted({t for t, _, type_only in _imports(m)
                        if t in MODULES and t not in shims and not type_only})
             for m in MODULES if m not in shims}
    # Tarjan's strongly connected components; a component of two or more is a cycle.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1 or v in graph[v]:
                cycles.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    assert not cycles, "import cycles (modules importing each other, directly or not):\n" \
        + "\n".join(" <-> ".join(c) for c in cycles)


@pytest.mark.parametrize("shim", SHIMS)
def test_shims_only_re_export(shim):
    assert shim in MODULES, f"{shim} is gone: the layout keeps it as a re-exporting shim"
    assert _is_shim(shim), (f"{MODULES[shim]} holds code: a shim has only a docstring, "
                            "imports and __all__ (move the code below it)")
    mod = importlib.import_module(shim)
    assert mod.__doc__, f"{shim} needs a docstring saying where its code lives"
    missing = [n for n in getattr(mod, "__all__", []) if not hasattr(mod, n)]
    assert not missing, f"{shim}.__all__ names what it does not import: {missing}"


def test_workflow_shims_are_the_workflows():
    import karstsink.flux.pipeline as flux_pipeline
    import karstsink.pipeline as pipeline
    from karstsink import workflows
    from karstsink.workflows import catchment, run

    for name in pipeline.__all__:
        assert getattr(pipeline, name) is getattr(workflows, name)
    for name in flux_pipeline.__all__:
        assert getattr(flux_pipeline, name) is getattr(catchment, name)
    assert workflows.run_pipeline is run.run_pipeline


def test_layer_table_reads_the_plan():
    # spot checks of the longest-prefix rule against the plan's own examples
    assert _layer("karstsink.flux.pipeline") == 4  # a shim, although inside flux/
    assert _layer("karstsink.flux.wrtds") == 2
    assert _layer("karstsink.io.samples") == 1
    assert _layer("karstsink.workflows.run") == 3
    assert _layer("karstsink") == 4
    assert _layer("karstsink.cli._run") == 4
    assert _layer("karstsinkx") is None
