"""haipvs's import graph, read statically with `ast` (nothing is imported).

Every import statement of every module under haipvs/ becomes an `Import`: where it is
(file, line), what it names (a haipvs module, resolved to the deepest module that exists, or
an outside top-level package), and in what context it runs: at import time (module level,
class bodies, module-level `if`/`try`), only inside a function, or only for type checkers
(`if TYPE_CHECKING:`).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import haipvs

PACKAGE_DIR = Path(haipvs.__file__).parent
ROOT = PACKAGE_DIR.parent


@dataclass(frozen=True)
class Import:
    source: str  # the importing module, dotted
    target: str  # dotted: a haipvs module, or an outside top-level package ("trio")
    line: int
    at_import_time: bool  # runs when the source module is imported
    type_checking: bool  # inside `if TYPE_CHECKING:`

    @property
    def internal(self) -> bool:
        return self.target == "haipvs" or self.target.startswith("haipvs.")

    def where(self) -> str:
        return f"{module_path(self.source)}:{self.line}"


@cache
def modules() -> dict[str, Path]:
    """Every haipvs module, dotted name -> file (a package is its __init__.py)."""
    found = {}
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def module_path(name: str) -> str:
    return str(modules()[name].relative_to(ROOT))


def is_package(name: str) -> bool:
    return modules()[name].name == "__init__.py"


def _resolve(name: str) -> str:
    """The deepest existing haipvs module of a dotted name, or the outside top level."""
    if not (name == "haipvs" or name.startswith("haipvs.")):
        return name.split(".")[0]
    known = modules()
    while name not in known and "." in name:
        name = name.rsplit(".", 1)[0]
    return name


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


class _Collector(ast.NodeVisitor):
    def __init__(self, source: str) -> None:
        self.source = source
        self.found: list[Import] = []
        self.in_function = 0
        self.in_type_checking = 0

    def _add(self, target: str, line: int) -> None:
        self.found.append(
            Import(self.source, target, line, self.in_function == 0, self.in_type_checking > 0)
        )

    def _function(self, node: ast.AST) -> None:
        self.in_function += 1
        self.generic_visit(node)
        self.in_function -= 1

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _function

    def visit_If(self, node: ast.If) -> None:
        if not _is_type_checking(node.test):
            self.generic_visit(node)
            return
        self.in_type_checking += 1
        for child in node.body:
            self.visit(child)
        self.in_type_checking -= 1
        for child in node.orelse:  # the `else:` of `if TYPE_CHECKING` runs
            self.visit(child)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(_resolve(alias.name), node.lineno)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            package = self.source.split(".")
            if not is_package(self.source):
                package.pop()
            package = package[: len(package) - (node.level - 1)]
            base = ".".join(package + ([node.module] if node.module else []))
        else:
            base = node.module or ""
        for alias in node.names:
            # `from pkg import sub` imports the module pkg.sub when there is one.
            self._add(_resolve(f"{base}.{alias.name}"), node.lineno)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if isinstance(func, ast.Name) and func.id == "__import__":
            self._add("__import__", node.lineno)
        self.generic_visit(node)


@cache
def imports_of(name: str) -> tuple[Import, ...]:
    path = modules()[name]
    collector = _Collector(name)
    collector.visit(ast.parse(path.read_text(), str(path)))
    return tuple(collector.found)


def all_imports() -> Iterator[Import]:
    for name in modules():
        yield from imports_of(name)


def import_time_graph() -> dict[str, dict[str, Import]]:
    """source -> {target: the first import making that edge}: haipvs modules only, the
    imports that run when the source is imported (TYPE_CHECKING and function bodies out)."""
    graph: dict[str, dict[str, Import]] = {name: {} for name in modules()}
    for imp in all_imports():
        runs = imp.at_import_time and not imp.type_checking
        if runs and imp.internal and imp.target != imp.source:
            graph[imp.source].setdefault(imp.target, imp)
    return graph


def cycles(graph: dict[str, dict[str, Import]]) -> list[list[Import]]:
    """One concrete cycle per strongly connected component with more than one module
    (Tarjan), as the chain of imports that closes it."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def connect(node: str) -> None:  # recursion depth is bounded by the module count
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in graph[node]:
            if succ not in index:
                connect(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return [_cycle_through(graph, component) for component in components]


def _cycle_through(graph: dict[str, dict[str, Import]], component: list[str]) -> list[Import]:
    """Shortest path from the component's first module back to itself, inside it."""
    start, members = component[0], set(component)
    came_from: dict[str, Import] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for succ, imp in graph[node].items():
                if succ not in members or succ in came_from:
                    continue
                came_from[succ] = imp
                if succ == start:
                    chain = [imp]
                    while chain[0].source != start:
                        chain.insert(0, came_from[chain[0].source])
                    return chain
                following.append(succ)
        frontier = following
    raise AssertionError(f"no cycle through {component}")  # a component always has one


def describe_cycle(chain: list[Import]) -> str:
    return "\n".join(f"  {imp.source} -> {imp.target}  ({imp.where()})" for imp in chain)
