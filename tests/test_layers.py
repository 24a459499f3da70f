import ast
import pathlib

PACKAGE = pathlib.Path(__file__).parent.parent / "bittap_ws"

# Each module may import only from modules below it; listed top down.
LAYERS = [
    "cli",
    "_display",
    "client",
    "_checks",
    "_calls",
    "session",
    "_restore",
    "_backoff",
    "_login",
    "streams",
    "_subscription",
    "connection",
    "_keepalive",
    "_reader",
    "_transport",
    "_frames",
    "_framecheck",
    "_masking",
    "pending",
    "_ratelimit",
    "_redact",
    "auth",
    "topics",
    "_topicparse",
    "protocol",
    "_encode",
    "_json",
    "_deadline",
    "errors",
]


def package_imports(path):
    """The bittap_ws modules that the module at ``path`` imports."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                found.add(node.module.split(".")[0])
            else:
                found.update(alias.name for alias in node.names)
    return found


def modules():
    return {
        path.stem: path
        for path in PACKAGE.glob("*.py")
        if path.stem not in ("__init__", "__main__")
    }


def test_imports_flow_down():
    """No module imports a module above it in the layers."""
    rank = {name: index for index, name in enumerate(LAYERS)}
    for name, path in modules().items():
        if name not in rank:
            continue
        for imported in package_imports(path):
            if imported in rank:
                assert rank[imported] > rank[name], f"{name} imports {imported}"


def test_no_import_cycle():
    """The package's import graph has no cycle."""
    graph = {name: package_imports(path) for name, path in modules().items()}
    done, active = set(), []

    def visit(name):
        assert name not in active, " -> ".join([*active, name])
        if name in done:
            return
        active.append(name)
        for imported in graph.get(name, ()):
            visit(imported)
        active.pop()
        done.add(name)

    for name in graph:
        visit(name)


def test_modules_are_small():
    """No module is over about 400 lines."""
    paths = [*PACKAGE.glob("*.py"), *PACKAGE.glob("*/*.py")]
    sizes = {path.name: len(path.read_text(encoding="utf-8").splitlines()) for path in paths}
    assert {name: size for name, size in sizes.items() if size > 400} == {}
