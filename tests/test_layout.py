"""The package's shape: no import cycles between its modules (function-level imports count too;
only `if TYPE_CHECKING:` blocks do not), and the store imports nothing above it."""

import ast
from pathlib import Path

import sparsearch

PACKAGE = Path(sparsearch.__file__).parent


def _modules() -> dict[str, tuple[Path, list[str]]]:
    """Dotted module name -> (file, the package its relative imports start from)."""
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = ["sparsearch", *path.relative_to(PACKAGE).with_suffix("").parts]
        name_parts = parts[:-1] if parts[-1] == "__init__" else parts
        out[".".join(name_parts)] = (path, name_parts if parts[-1] == "__init__" else parts[:-1])
    return out


def import_graph() -> dict[str, set[str]]:
    """Each module's imports of other modules of the package (explicit ones: a submodule import
    does not count its parent package's __init__)."""
    modules = _modules()
    graph = {}
    for name, (path, package) in modules.items():
        tree = ast.parse(path.read_text())
        hidden = {id(node) for block in ast.walk(tree) if isinstance(block, ast.If)
                  and "TYPE_CHECKING" in ast.unparse(block.test) for node in ast.walk(block)}
        edges = set()
        for node in ast.walk(tree):
            if id(node) in hidden:
                continue
            if isinstance(node, ast.ImportFrom):
                base = ".".join(package[: len(package) - node.level + 1] + ([node.module] if node.module else [])) \
                    if node.level else node.module
                named = {f"{base}.{a.name}" for a in node.names} & set(modules)  # submodules imported by name
                bare = node.module is None and len(named) == len(node.names)  # `from . import sub`: not the package
                edges |= named | ({base} & set(modules) if not bare else set())
            elif isinstance(node, ast.Import):
                edges |= {a.name for a in node.names if a.name in modules}
        graph[name] = edges - {name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[set[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
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
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(component)

    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [{"a", "b", "c"}]


def test_the_package_has_no_import_cycles():
    assert cycles(import_graph()) == []


def test_the_store_imports_nothing_above_it():
    graph = import_graph()
    store = {name for name in graph if name.startswith("sparsearch.store")}
    assert store, "no store modules found"
    above = {(name, dep) for name in store for dep in graph[name]
             if not dep.startswith("sparsearch.store") and dep != "sparsearch.errors"}
    assert above == set()


def test_the_graph_sees_function_level_imports():
    graph = import_graph()
    assert "sparsearch.kinds" in graph["sparsearch.cli"]  # imported inside commands only


def test_from_dot_import_submodule_is_an_edge_to_the_submodule_only():
    graph = import_graph()
    assert "sparsearch.saliency" in graph["sparsearch.probes"] and "sparsearch" not in graph["sparsearch.probes"]
