"""The layout tells the truth: imports, the README's map and layers, citations, test files.

* The import graph of ``src/revertible``, walked statically (ast, imports inside functions too),
  has no cycle between modules or between packages, no cross-package import of a private module
  or name (``from ..decision._book import x`` in ``backtest/``), and no module over 600 lines
  (except the compiled kernel, ``spread/_kernel.py``). Imports under ``if TYPE_CHECKING:`` never
  run, so they make no cycle; they still may not name another package's private parts.
* Importing the package sets no environment variable, logger level or matplotlib backend.
* The README's "Where things are" names every package and module and nothing else; its
  dependency-layer table is what the imports are.
* Nothing cites a repository path that does not exist (or ``DESIGN.md``).
* ``tests/<package>/test_<module>.py`` names an existing module.

``LEAD_PENDING`` (and ``LAYER_PENDING``, ``SIDE_EFFECTS_PENDING``, ``CITATION_PENDING``,
``LEAD_PENDING_TESTS``) list what sits in files being rewritten elsewhere (issue 19): the tests
pass with them, and fail once one is gone until its entry is removed, so the lists only shrink.
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
ROOT = SRC / "revertible"
MAX_LINES = 600
#: Modules allowed over MAX_LINES: the compiled scan is one numba body by design.
LONG_MODULES = {"revertible.spread._kernel"}

#: Violations inside the lead's files (issue 19 rewrites the decision layer), each commented with
#: what removes it. Entries are ("cycle", sorted module names) for a module cycle, ("package
#: cycle", sorted package names) and ("private", importer, "module[:name]").
LEAD_PENDING: set[tuple] = set()


def _modname(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


MODULES = {_modname(p): p for p in sorted(ROOT.rglob("*.py"))}


def _is_type_checking(node: ast.If) -> bool:
    t = node.test
    return (isinstance(t, ast.Name) and t.id == "TYPE_CHECKING") or (
        isinstance(t, ast.Attribute) and t.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST) -> list[tuple[ast.Import | ast.ImportFrom, bool]]:
    """Every import statement in ``tree`` with whether it sits under ``if TYPE_CHECKING:``."""
    out: list[tuple[ast.Import | ast.ImportFrom, bool]] = []

    def visit(node: ast.AST, type_only: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for c in child.body:
                    one(c, True)
                for c in child.orelse:
                    one(c, type_only)
            else:
                one(child, type_only)

    def one(node: ast.AST, type_only: bool) -> None:
        if isinstance(node, ast.Import | ast.ImportFrom):
            out.append((node, type_only))
        visit(node, type_only)

    visit(tree, False)
    return out


def _targets(module: str, is_pkg: bool, node: ast.Import | ast.ImportFrom):
    """``(module, name or None)`` inside revertible that ``node`` imports."""
    if isinstance(node, ast.Import):
        return [(a.name, None) for a in node.names if a.name.split(".")[0] == "revertible"]
    if node.level:
        base = module.split(".") if is_pkg else module.split(".")[:-1]
        base = base[: len(base) - (node.level - 1)]
        target = ".".join(base + ([node.module] if node.module else []))
    else:
        target = node.module or ""
    if target.split(".")[0] != "revertible":
        return []
    out = []
    for a in node.names:
        sub = f"{target}.{a.name}"
        out.append((sub, None) if sub in MODULES else (target, a.name))
    return out


def _package(module: str) -> str:
    """The top-level package (``revertible.decision``) a module belongs to."""
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 1 else module


def _graph():
    edges: dict[str, set[str]] = defaultdict(set)
    private: set[tuple] = set()
    for mod, path in MODULES.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        for node, type_only in _imports(tree):
            for target, name in _targets(mod, path.name == "__init__.py", node):
                if target not in MODULES:
                    continue
                if not type_only:
                    edges[mod].add(target)
                if _package(target) != _package(mod):
                    parts = target.split(".")[1:] + ([name] if name else [])
                    if any(p.startswith("_") and not p.startswith("__") for p in parts):
                        private.add(("private", mod, target + (f":{name}" if name else "")))
    return edges, private


def _cycles(edges: dict[str, set[str]]) -> list[tuple[str, ...]]:
    """Strongly connected components with more than one node (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out = []
    counter = [0]

    def strong(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(tuple(sorted(comp)))

    for v in sorted(set(edges) | {w for ws in edges.values() for w in ws}):
        if v not in index:
            strong(v)
    return out


EDGES, PRIVATE = _graph()


def _violations() -> set[tuple]:
    found = set(PRIVATE)
    for comp in _cycles(EDGES):
        found.add(("cycle", *comp))
    pkg_edges: dict[str, set[str]] = defaultdict(set)
    for mod, targets in EDGES.items():
        for t in targets:
            if _package(t) != _package(mod) and _package(mod) != "revertible":
                pkg_edges[_package(mod)].add(_package(t))
    for comp in _cycles(pkg_edges):
        found.add(("package cycle", *comp))
    return found


def test_the_walker_sees_imports_inside_functions_and_type_checking_blocks():
    tree = ast.parse(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from ..model import Model\n"
        "def f():\n    from ..decision._book import x\n"
    )
    found = [(type(n).__name__, n.module, tc) for n, tc in _imports(tree)]
    assert ("ImportFrom", "model", True) in found
    assert ("ImportFrom", "decision._book", False) in found
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [("a", "b", "c")]


def test_no_import_cycles_and_no_private_imports_across_packages():
    found = _violations()
    new = sorted(found - LEAD_PENDING, key=str)
    gone = sorted(LEAD_PENDING - found, key=str)
    assert not new, "import violations:\n" + "\n".join(map(str, new))
    assert not gone, "fixed, remove from LEAD_PENDING:\n" + "\n".join(map(str, gone))


def test_modules_are_under_600_lines():
    sizes = {m: len(p.read_text().splitlines()) for m, p in MODULES.items()}
    long = {m: n for m, n in sizes.items() if n > MAX_LINES and m not in LONG_MODULES}
    assert not long, f"modules over {MAX_LINES} lines (split them): {long}"
    assert len(sizes) > 100  # the walk found the package


#: Modules with an import-time side effect, in the lead's files: model/_plots.py sets
#: matplotlib's backend at import (goes when it makes figures with revertible.io.subplots).
SIDE_EFFECTS_PENDING: set[str] = set()

_IMPORT_ALL = """
import importlib, json, logging, os, sys
import matplotlib
env = dict(os.environ)
backend = str(matplotlib.rcParams._get("backend"))
import revertible  # sets its own numba cache folder and OpenMP wait policy (documented)
# third-party libraries set their own variables when imported (LightGBM's OpenMP: KMP_*)
for lib in ("numpy", "pandas", "scipy", "sklearn", "lightgbm", "numba", "optuna", "mlflow",
            "mlflow.pyfunc", "pydantic", "typer", "rich", "yaml", "pyarrow"):
    importlib.import_module(lib)
env = dict(os.environ)
levels = {n: logging.getLogger(n).level for n in ("mlflow", "mlflow.pyfunc", "alembic")}
for name in json.loads(sys.argv[1]):
    importlib.import_module(name)
print(json.dumps({
    "env": sorted(k for k in os.environ if os.environ.get(k) != env.get(k)),
    "backend": [backend, str(matplotlib.rcParams._get("backend"))],
    "levels": [levels, {n: logging.getLogger(n).level for n in levels}],
}))
"""


def test_importing_the_package_changes_no_environment_logger_or_backend():
    import json
    import subprocess
    import sys

    names = [m for m in sorted(MODULES) if not m.endswith("__main__")
             and m not in SIDE_EFFECTS_PENDING]
    out = subprocess.run([sys.executable, "-c", _IMPORT_ALL, json.dumps(names)],
                         capture_output=True, text=True, check=True, env={
                             **__import__("os").environ, "PYTHONPATH": str(SRC)})
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["env"] == [], f"importing revertible set environment variables {got['env']}"
    assert got["backend"][0] == got["backend"][1], f"matplotlib backend changed: {got['backend']}"
    assert got["levels"][0] == got["levels"][1], f"logger levels changed: {got['levels']}"


# ---- the README's map and dependency layers ---------------------------------------------------
README = SRC.parent / "README.md"
_ENTRY = re.compile(r"^  (\S+)\s")
_MODULE = re.compile(r"(?<![\w.])(_[a-z][a-z0-9_]*)\b")


def _readme_section(title: str) -> str:
    text = README.read_text()
    start = text.index(title)
    return text[start:text.index("\n## ", start)]


def _map_entries() -> dict[str, set[str]]:
    """The "Where things are" map: entry (``config/``, ``io.py``) -> the ``_modules`` it names."""
    block = _readme_section("## Where things are").split("```")[1]
    entries: dict[str, set[str]] = {}
    current = None
    for line in block.splitlines()[2:]:
        m = _ENTRY.match(line)
        if m:
            current = m.group(1)
            entries[current] = set()
            line = line[m.end():]
        if current is not None:
            entries[current] |= set(_MODULE.findall(line.split("#")[0]))
    return entries


def _tree_entries() -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for p in sorted(ROOT.iterdir()):
        if p.is_dir() and (p / "__init__.py").exists():
            out[p.name + "/"] = {q.stem for q in p.glob("*.py") if q.stem != "__init__"}
        elif p.is_dir() and not p.name.startswith(("_", ".")):
            out[p.name + "/"] = set()  # a data folder (configs/)
        elif p.suffix == ".py":
            out[p.name] = set()
    return out


def test_readme_map_names_every_package_and_module_and_nothing_else():
    mapped, tree = _map_entries(), _tree_entries()
    assert sorted(set(tree) - set(mapped)) == [], "packages/modules missing from the README map"
    assert sorted(set(mapped) - set(tree)) == [], "the README map names what does not exist"
    missing = {k: sorted(v - mapped[k]) for k, v in tree.items() if v - mapped[k]}
    extra = {k: sorted(mapped[k] - v) for k, v in tree.items() if mapped[k] - v}
    assert missing == {}, f"modules missing from the README map: {missing}"
    assert extra == {}, f"the README map names modules that do not exist: {extra}"


def _layers() -> dict[str, int]:
    block = _readme_section("**Dependency layers**").split("```")[1]
    layers = {}
    for line in block.strip().splitlines():
        level, *names = line.split()
        for n in names:
            layers[n] = int(level)
    return layers


#: Same-layer imports that are pending (LEAD_PENDING above): model/_train.py imports tracking,
#: tracking imports model.
LAYER_PENDING: set[tuple[str, str]] = set()


def test_readme_dependency_layers_are_the_imports():
    layers = _layers()
    packages = {p.rstrip("/").removesuffix(".py") for p in _tree_entries()} - {
        "__init__", "__main__", "configs"}
    assert sorted(packages - set(layers)) == [], "packages missing from the layer table"
    assert sorted(set(layers) - packages) == [], "the layer table names what does not exist"
    wrong = set()
    for mod, targets in EDGES.items():
        a = mod.split(".")[1] if "." in mod else None
        for t in targets:
            b = t.split(".")[1] if "." in t else None
            if a in (None, "__main__", b) or b is None:
                continue  # the package root (version) and python -m import freely
            if layers[b] > layers[a] or (layers[b] == layers[a] and (a, b) not in LAYER_PENDING):
                wrong.add((a, layers[a], b, layers[b]))
    assert sorted(wrong) == [], "imports pointing up or sideways (importer, layer, imported, layer)"
    assert layers["errors"] < layers["config"] < layers["decision"] < layers["cli"]


# ---- nothing cites a file that is not in the repository -----------------------------------------
REPO_ROOT = SRC.parent
_CITED = re.compile(
    r"(?<![\w/.])((?:src|tests|docs|configs|benchmarks|research|scripts)/[\w./-]*\w)")

#: Citations inside the lead's files (issue 19): tests/test_decision.py's comment on the sizing
#: benchmark names scripts/bench.py, now benchmarks/bench.py.
CITATION_PENDING: set[tuple[str, str]] = set()


def _citing_files() -> list[Path]:
    files = [REPO_ROOT / "README.md", REPO_ROOT / "Makefile", REPO_ROOT / ".ci" / "run"]
    for folder in ("src", "tests", "docs", "benchmarks", "research", "configs"):
        files += [p for p in sorted((REPO_ROOT / folder).rglob("*"))
                  if p.suffix in (".py", ".md", ".yaml") and "__pycache__" not in p.parts]
    return [p for p in files if p.exists() and p != Path(__file__).resolve()]


def test_every_cited_repository_path_exists():
    missing = set()
    for path in _citing_files():
        text = path.read_text()
        rel = str(path.relative_to(REPO_ROOT))
        if "DESIGN.md" in text:
            missing.add((rel, "DESIGN.md"))
        for cited in _CITED.findall(text):
            target = cited.split("::")[0].rstrip(".")
            if not (REPO_ROOT / target).exists():
                missing.add((rel, target))
    assert sorted(missing - CITATION_PENDING) == [], "cited files that do not exist"
    assert sorted(CITATION_PENDING - missing) == [], "fixed, remove from CITATION_PENDING"


# ---- tests mirror src/ --------------------------------------------------------------------------
TESTS = Path(__file__).resolve().parent
#: Test files at the top of tests/: modules of the package root, the repository-wide checks, and
#: the lead's topic files (issue 19 moves them into tests/<package>/test_<module>.py).
TOP_LEVEL_TESTS = {"test_errors.py", "test_package.py", "test_layout.py", "test_demo.py"}
LEAD_PENDING_TESTS: set[str] = set()


def test_test_files_mirror_the_modules_they_test():
    wrong = []
    for path in sorted(TESTS.rglob("test_*.py")):
        rel = path.relative_to(TESTS)
        if len(rel.parts) == 1:
            if rel.name not in TOP_LEVEL_TESTS | LEAD_PENDING_TESTS:
                wrong.append(str(rel))
            continue
        package, name = rel.parts[0], rel.name.removeprefix("test_").removesuffix(".py")
        # test_<module>.py, or test_<module>_<topic>.py when a module's tests are split by topic
        modules = {m.stem.removeprefix("_") for m in (ROOT / package).glob("_*.py")}
        if len(rel.parts) != 2 or not any(name == m or name.startswith(m + "_") for m in modules):
            wrong.append(str(rel))
    assert wrong == [], ("tests/<package>/test_<module>[_<topic>].py tests "
                         "src/revertible/<package>/_<module>")
    assert sorted(LEAD_PENDING_TESTS - {p.name for p in TESTS.glob("test_*.py")}) == [], (
        "moved: remove from LEAD_PENDING_TESTS")
