"""The package's shape: layers point down, no import circles, no private names across packages, small modules.

Every import in `src/clusterank` (also those inside functions; not `if TYPE_CHECKING:` blocks, which never run)
is read with `ast`, resolved to a clusterank module and checked against the layer order below. A package's
`_EXPORTS` table (module -> names, imported on first use by its `__getattr__`) counts as importing those names, and
`from clusterank import X` as importing the module that defines X. The CLI and the server import only the public
API (`clusterank.__all__`) and their own package.
"""

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "clusterank"

LAYERS = [
    {"errors", "defaults", "workspace", "tables", "prices", "lazy", "tomlfile", "httpclient", "postgres"},
    {"data", "registry"},
    {"embed"},
    {"cluster"},
    {"index"},
    {"rerank"},
    {"train"},
    {"pipeline", "distributed"},
    {"cost"},
    {"evaluate"},
    {"viz"},
    {"server", "demo"},
    {"cli", "__init__", "__main__"},
]
"""Lowest first: a module may import from its own layer and the layers below, never from above."""


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def top(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def layer(module: str) -> int:
    name = top(module)
    for i, names in enumerate(LAYERS):
        if name in names:
            return i
    raise AssertionError(f"{module}: its top-level part {name!r} has no layer in tests/test_layers.py")


MODULES = {module_name(p): p for p in SRC.rglob("*.py")}


def is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imports(path: Path) -> list[tuple[str, list[str], int]]:
    """(module imported, names taken from it, line) for every import that runs."""
    found = []

    def visit(node):
        if isinstance(node, ast.If) and is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == ["_EXPORTS"]:
            found.extend((key.value, [n.value for n in value.elts], node.lineno)
                         for key, value in zip(node.value.keys, node.value.values))
        if isinstance(node, ast.Import):
            found.extend((a.name, [], node.lineno) for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module, [a.name for a in node.names], node.lineno))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8")))
    return found


def public_names() -> dict[str, str]:
    """Each name of `clusterank.__all__` -> the module its `_EXPORTS` table imports it from."""
    path = MODULES["clusterank"]
    where = {name: module for module, names, _ in imports(path) for name in names if module.startswith("clusterank.")}
    tree = ast.parse(path.read_text(encoding="utf-8"))
    listed = next(ast.literal_eval(node.value) for node in tree.body if isinstance(node, ast.Assign)
                  and [getattr(t, "id", None) for t in node.targets] == ["__all__"])
    return {name: where[name] for name in listed if name in where}


PUBLIC = public_names()


def edges() -> dict[str, set[tuple[str, int]]]:
    """clusterank module -> the clusterank modules it imports (with the line); a public name taken from `clusterank`
    points at the module that defines it."""
    graph = {m: set() for m in MODULES}
    for mod, path in MODULES.items():
        for target, names, line in imports(path):
            if not target.startswith("clusterank"):
                continue
            subs = [f"{target}.{n}" for n in names if f"{target}.{n}" in MODULES]
            if target == "clusterank" and mod != "clusterank":
                subs += [PUBLIC[n] for n in names if n in PUBLIC]
            for dst in subs or [target]:
                if dst != mod:
                    graph[mod].add((dst, line))
    return graph


def test_every_import_points_down():
    wrong = [f"{MODULES[src].relative_to(SRC.parent)}:{line} imports {dst} (layer {layer(dst)} > {layer(src)})"
             for src, dsts in edges().items() for dst, line in dsts if layer(dst) > layer(src)]
    assert not wrong, "imports from a higher layer:\n" + "\n".join(sorted(wrong))


def test_no_import_circles():
    graph = {m: {d for d, _ in ds} for m, ds in edges().items()}
    index, low, stack, on_stack, circles = {}, {}, [], set(), []

    def strongconnect(v):  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                strongconnect(w)
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
                circles.append(sorted(component))

    for v in graph:
        if v not in index:
            strongconnect(v)
    assert not circles, f"import circles: {circles}"


def test_no_private_names_from_another_package():
    wrong = []
    for mod, path in MODULES.items():
        package = mod.rsplit(".", 1)[0] if path.name != "__init__.py" else mod
        for target, names, line in imports(path):
            if not target.startswith("clusterank"):
                continue
            owner = target if f"{target}.__init__" in MODULES or target in MODULES and (
                MODULES[target].name == "__init__.py") else target.rsplit(".", 1)[0]
            for name in names:
                if name.startswith("_") and not owner.startswith(package) and not package.startswith(owner):
                    wrong.append(f"{path.relative_to(SRC.parent)}:{line} imports {target}.{name}")
    assert not wrong, "\n".join(wrong)


def non_public_imports(path: Path, package: str) -> list[str]:
    """`file:line imports X` for each import in `path` of a clusterank module other than `clusterank` itself (names
    in `__all__` only) and the modules of `package`."""
    wrong, shown = [], path.relative_to(SRC.parent) if path.is_relative_to(SRC.parent) else path.name
    for target, names, line in imports(path):
        where = f"{shown}:{line}"
        if target == "clusterank":
            wrong += [f"{where} imports clusterank.{n}, which is not in clusterank.__all__" for n in names
                      if n not in PUBLIC]
        elif target.startswith("clusterank.") and target != package and not target.startswith(package + "."):
            wrong.append(f"{where} imports {target} (not the public API: `from clusterank import ...`)")
    return wrong


def test_the_cli_and_the_server_use_only_the_public_api():
    """The CLI and the server are faces over `clusterank`'s public API: whatever they import (also inside
    functions) a Python user can import from `clusterank` too; only their own package's modules are exempt."""
    wrong = [problem for face in ("cli", "server") for path in sorted((SRC / face).rglob("*.py"))
             for problem in non_public_imports(path, f"clusterank.{face}")]
    assert not wrong, "the CLI and the server import past the public API:\n" + "\n".join(wrong)


@pytest.mark.parametrize("path", sorted(SRC.rglob("*.py")), ids=lambda p: str(p.relative_to(SRC)))
def test_modules_stay_small(path):
    limit = 300 if path.parent.name == "cli" else 400
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= limit, f"{path.relative_to(SRC)} has {lines} lines (at most {limit})"


def test_the_layer_check_can_fail(tmp_path):
    """The checks above read real imports: a module importing upwards is seen."""
    probe = tmp_path / "probe.py"
    probe.write_text("from clusterank.viz.map import build_map\nif TYPE_CHECKING:\n    import clusterank.cli\n"
                     "_EXPORTS = {'clusterank.server.app': ('create_app',)}\n")
    assert [t for t, _, _ in imports(probe)] == ["clusterank.viz.map", "clusterank.server.app"]
    assert layer("clusterank.viz.map") > layer("clusterank.evaluate.compare")
    face = tmp_path / "face.py"
    face.write_text("from clusterank import SearchPipeline, no_such_name\nfrom clusterank.cli.common import app\n"
                    "def f():\n    from clusterank.index.hits import preview\n")
    wrong = non_public_imports(face, "clusterank.cli")
    assert [w.split(":", 1)[1] for w in wrong] == [
        "1 imports clusterank.no_such_name, which is not in clusterank.__all__",
        "4 imports clusterank.index.hits (not the public API: `from clusterank import ...`)"]
