"""The shape of the source tree: layers that import only downwards, no circles, small files.

The layers, bottom to top, are listed in ``LAYERS`` (CONTRIBUTING.md draws them).
A module may import from its own layer and from any layer below; these tests walk
every ``import`` of every module with :mod:`ast` (imports inside functions and
``TYPE_CHECKING`` blocks included, since they are dependencies all the same).
"""

from __future__ import annotations

import ast
import functools
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORE = ROOT / "packages" / "zarr-vectors-core" / "src"
PLUGINS = [
    ROOT / "packages" / name / "src"
    for name in ("zarr-vectors-obstore", "zarr-vectors-fsspec", "zarr-vectors-icechunk")
]
MAX_LINES = 600

#: Sub-packages and modules of ``zarr_vectors`` by layer, bottom first.
LAYERS: list[set[str]] = [
    {"exceptions", "_version", "_extras", "progress"},
    {"storage"},
    {"format"},
    {"store"},
    {"dask"},
    {"types"},
    {"lazy", ""},  # "" is the package's own __init__ (the lazy top-level names)
    {"io"},
    {"serve"},
    {"testing"},
    {"cli", "__main__"},
    {"core"},  # the design document's import paths, re-exported; nothing imports them
]


def _layer_of(module: str) -> int:
    part = module.split(".")[1] if module.count(".") else ""
    for rank, names in enumerate(LAYERS):
        if part in names:
            return rank
    raise AssertionError(f"{module} is in no layer; add its package to LAYERS")


def _modules(src: Path, package: str) -> dict[str, Path]:
    found = {}
    for path in sorted((src / package).rglob("*.py")):
        parts = list(path.relative_to(src).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    """Ids of the nodes inside ``if TYPE_CHECKING:`` blocks (imports for annotations only)."""
    inside: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for statement in node.body:
                inside.update(id(n) for n in ast.walk(statement))
    return inside


#: A string that names a module of the package, as ``importlib.import_module`` takes it
#: or as an entry-point or lazy table writes it (``"zarr_vectors.io.las:read_las"``).
_MODULE_STRING = re.compile(r"^(zarr_vectors(?:_[a-z]+)?(?:\.[A-Za-z_][A-Za-z0-9_]*)+)(?::\w+)?$")


def _imports(module: str, path: Path, *, runtime_only: bool = False) -> Iterator[str]:
    """Every module ``module`` imports (absolute names, relative ones resolved).

    Strings that name a module (lazy tables, ``importlib.import_module("...")``, entry-point
    targets, forkserver preloads) count too: a dependency on that module all the same, so an
    arrow for the layer check. ``runtime_only`` (the circle check) leaves them out, with the
    imports made only for type checkers: such a module is imported later, often by another
    module (the registry, the forkserver), so it closes no circle at import time.
    """
    is_package = path.name == "__init__.py"
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = _type_checking_nodes(tree) if runtime_only else set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if not runtime_only and (named := _MODULE_STRING.match(node.value)):
                yield named.group(1)
        elif isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                name = ".".join([*base, *([node.module] if node.module else [])])
            else:
                name = node.module or ""
            yield name
            yield from (f"{name}.{alias.name}" for alias in node.names)


def _graph(src: Path, package: str, *, runtime_only: bool = False) -> dict[str, set[str]]:
    modules = _modules(src, package)
    return {
        module: {
            name
            for name in _imports(module, path, runtime_only=runtime_only)
            if name in modules and name != module
        }
        for module, path in modules.items()
    }


def test_each_layer_imports_only_from_its_own_layer_and_below() -> None:
    upward = [
        f"{module} ({LAYERS[_layer_of(module)]}) imports {target} ({LAYERS[_layer_of(target)]})"
        for module, targets in _graph(CORE, "zarr_vectors").items()
        for target in sorted(targets)
        if _layer_of(target) > _layer_of(module)
    ]
    assert not upward, "imports that run back up a layer:\n" + "\n".join(upward)


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _without_package_inits(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    # A package's __init__ re-exporting its own modules is not a circle between modules:
    # importing ``pkg.mod`` runs ``pkg/__init__`` first, by Python's rules, not by choice.
    return {
        module: {t for t in targets if not module.startswith(t + ".")}
        for module, targets in graph.items()
    }


@pytest.mark.parametrize(
    ("src", "package"),
    [(CORE, "zarr_vectors")]
    + [(p, p.parent.name.replace("-", "_")) for p in PLUGINS if p.exists()],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_no_import_circles(src: Path, package: str) -> None:
    # Annotations may name a sibling's class (``if TYPE_CHECKING:``); that is no circle.
    cycles = _cycles(_without_package_inits(_graph(src, package, runtime_only=True)))
    assert not cycles, "modules that import each other:\n" + "\n".join(map(str, cycles))


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_the_layer_check_sees_an_upward_import() -> None:
    assert _layer_of("zarr_vectors.cli.points_cmd") > _layer_of("zarr_vectors.storage.base")


def test_the_import_walk_sees_modules_named_in_strings(tmp_path: Path) -> None:
    source = tmp_path / "lazy.py"
    source.write_text(
        'import importlib\nimportlib.import_module("zarr_vectors.cli.points_cmd")\n'
        'TABLE = {"f": "zarr_vectors.io.las:read_las", "doc": "see zarr_vectors.io"}\n'
    )
    found = set(_imports("zarr_vectors.format.lazy", source))
    assert {"zarr_vectors.cli.points_cmd", "zarr_vectors.io.las"} <= found
    assert "zarr_vectors.io" not in found  # prose naming a module is no import


def test_plugins_build_on_the_storage_layer_and_below() -> None:
    # CONTRIBUTING.md: a plugin builds on storage/ (a transactional one on store/ too),
    # never on the format, the geometry types, the CLI or the kit.
    highest = _layer_of("zarr_vectors.store")
    above = [
        f"{module} imports {name}"
        for src in PLUGINS
        if src.exists()
        for module, path in _modules(src, src.parent.name.replace("-", "_")).items()
        for name in _imports(module, path)
        if name.startswith("zarr_vectors.") and _layer_of(name) > highest
    ]
    assert not above, "plugins importing above store/:\n" + "\n".join(above)


def test_the_kit_uses_no_private_name_of_the_layers_below() -> None:
    # The kit (testing/) is what plugin authors run; it must pass through what they can use.
    private = [
        f"{module} imports {name}"
        for module, path in _modules(CORE, "zarr_vectors").items()
        if module.startswith("zarr_vectors.testing")
        for name in _imports(module, path)
        if name.startswith("zarr_vectors.")
        and not name.startswith("zarr_vectors.testing")
        and any(part.startswith("_") for part in name.split(".")[1:])
    ]
    assert not private, "\n".join(private)


def test_the_contributing_guide_draws_these_layers_in_order() -> None:
    guide = (ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8")
    picture = guide.split("## The layers", 1)[1].split("```text", 1)[1].split("```", 1)[0]
    drawn = [m.removesuffix("/").removesuffix(".py") for m in re.findall(r"^ (\S+)", picture, re.M)]
    ranks = [0 if name == "base" else _layer_of(f"zarr_vectors.{name}") for name in drawn]
    assert ranks == sorted(range(len(LAYERS)), reverse=True), (
        f"CONTRIBUTING.md draws {drawn} (top first); LAYERS has them as ranks {ranks}"
    )


def test_the_core_never_names_a_plugin() -> None:
    named = [
        f"{module} imports {name}"
        for module, path in _modules(CORE, "zarr_vectors").items()
        for name in _imports(module, path)
        if name.split(".")[0]
        in {"zarr_vectors_obstore", "zarr_vectors_fsspec", "zarr_vectors_icechunk"}
    ]
    assert not named, "\n".join(named)


def test_no_source_file_is_longer_than_the_limit() -> None:
    long = [
        f"{path.relative_to(ROOT)}: {count} lines"
        for src in [CORE, *PLUGINS]
        if src.exists()
        for path in sorted(src.rglob("*.py"))
        if (count := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    ]
    assert not long, f"files over {MAX_LINES} lines (split them along their seams):\n" + "\n".join(
        long
    )


# -- tests mirror the code ------------------------------------------------------------------
PACKAGE = CORE / "zarr_vectors"

#: Tested in files named after something else; their tests are to be moved (issue 16).
_ELSEWHERE = "tested in a file of another name"

#: Modules with logic (a function, or a method with a body) and no test file of their own
#: name, ``tests/<layer>/test_<module>.py`` (``tests/test_<module>.py`` at the top), and
#: why. The one list of what is left: delete a line when its test file lands (the test
#: below then says so). Modules without logic (re-exports, constants, Protocols) need none.
WITHOUT_OWN_TEST: dict[str, str] = {}


def _is_stub(body: list[ast.stmt]) -> bool:
    """A body of a docstring, ``...`` or ``pass`` only (a Protocol's or an abstract method's)."""
    return all(
        isinstance(s, ast.Pass) or (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))
        for s in body
    )


def _has_logic(source: str) -> bool:
    """Whether a module defines a function, or a class with a method that does something.

    Re-exports, constants, dataclasses of fields, exception classes without methods
    and Protocols (methods of a docstring and ``...``) have none.
    """
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            return True
        if isinstance(node, ast.ClassDef) and any(
            isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef) and not _is_stub(item.body)
            for item in node.body
        ):
            return True
    return False


def _mirrored_packages() -> list[tuple[Path, Path, str]]:
    """``(package dir, its tests dir, prefix of its names)``: the core, then each plugin.

    A plugin ``zarr-vectors-<name>`` is tested in ``tests/plugins/<name>/``; its modules
    are named ``zarr_vectors_<name>/<module>.py`` here.
    """
    plugins = [
        (
            src / src.parent.name.replace("-", "_"),
            ROOT / "tests" / "plugins" / src.parent.name.removeprefix("zarr-vectors-"),
            src.parent.name.replace("-", "_") + "/",
        )
        for src in PLUGINS
        if src.exists()
    ]
    return [(PACKAGE, ROOT / "tests", ""), *plugins]


@functools.cache
def _own_tests() -> dict[str, tuple[bool, bool]]:
    """``{module path: (has logic, has its own test file)}`` (package ``__init__``s aside)."""
    found = {}
    for package, tests, prefix in _mirrored_packages():
        for path in sorted(package.rglob("*.py")):
            if path.name in ("__init__.py", "__main__.py"):
                continue
            rel = path.relative_to(package)
            test = tests / rel.parent / f"test_{rel.stem.lstrip('_')}.py"
            logic = _has_logic(path.read_text(encoding="utf-8"))
            found[prefix + rel.as_posix()] = (logic, test.exists())
    return found


def test_every_module_with_logic_has_a_test_file_of_its_own_name() -> None:
    missing = [
        rel
        for rel, (logic, tested) in _own_tests().items()
        if logic and not tested and rel not in WITHOUT_OWN_TEST
    ]
    assert not missing, (
        "modules without tests/<layer>/test_<module>.py: write it (or, if the tests live "
        "elsewhere for a reason, add the module to WITHOUT_OWN_TEST with the reason):\n"
        + "\n".join(missing)
    )


def test_the_list_of_modules_without_their_own_test_is_current() -> None:
    modules = _own_tests()
    stale = []
    for rel in WITHOUT_OWN_TEST:
        logic, tested = modules.get(rel, (False, False))
        if rel not in modules or tested or not logic:
            why = "gone" if rel not in modules else "has its test" if tested else "no logic"
            stale.append(f"{rel}: {why}")
    assert not stale, (
        "delete these lines from WITHOUT_OWN_TEST in tests/test_architecture.py:\n"
        + "\n".join(stale)
    )


def test_the_logic_check_tells_code_from_declarations() -> None:
    assert not _has_logic('"""Doc."""\nfrom x import y\n\nA = 1\n__all__ = ["y"]\n')
    assert not _has_logic("class E(Exception):\n    'doc'\n")
    assert not _has_logic(
        "class P(Protocol):\n    def f(self) -> int:\n        'doc'\n        ...\n"
    )
    assert _has_logic("def f() -> int:\n    return 1\n")
    assert _has_logic("class K:\n    def __str__(self) -> str:\n        return 'k'\n")
