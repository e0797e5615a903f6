"""import-linter contract types for `make lint-imports` (configured in .importlinter).

grimp, import-linter's graph builder, only graphs packages, but chalice needs its entry point as the single
top-level module app.py. `forbidden_with_modules` is the built-in forbidden contract plus such modules: their
imports are read from the source (nothing is imported) and added to the contract's own copy of the graph, so
chains from them through the packages are found as for any other module.
"""
from __future__ import annotations

import ast
import importlib.util

from grimp import ImportGraph
from importlinter.contracts.forbidden import ForbiddenContract
from importlinter.domain import fields
from importlinter.domain.contract import ContractCheck


class ForbiddenWithTopLevelModules(ForbiddenContract):
    type_name = "forbidden_with_modules"

    # Single-file top-level modules (on sys.path) to add to the graph; list them in source_modules too.
    top_level_modules = fields.ListField(subfield=fields.StringField())

    def check(self, graph: ImportGraph, verbose: bool) -> ContractCheck:
        for module in self.top_level_modules:  # type: ignore[attr-defined]
            add_module_imports(graph, module)
        return super().check(graph, verbose)


def add_module_imports(graph: ImportGraph, module: str) -> None:
    """Add `module` and every import in its source (nested ones too, as grimp counts them) to `graph`."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.origin or spec.submodule_search_locations is not None:
        raise ValueError(f"{module!r} is not a single-file module on the path")
    with open(spec.origin, encoding="utf-8") as source:
        text = source.read()
    lines = text.splitlines()
    _add_unsquashed(graph, module)
    for node in ast.walk(ast.parse(text, filename=spec.origin)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            # `from a.b import c` imports the module a.b.c when there is one, else the name c of a.b.
            names = [_known_module(graph, f"{node.module}.{alias.name}") or node.module for alias in node.names]
        else:
            continue
        for name in names:
            graph.add_import(importer=module, imported=_graph_name(graph, name), line_number=node.lineno,
                             line_contents=lines[node.lineno - 1].strip())


def _add_unsquashed(graph: ImportGraph, module: str) -> None:
    """Add `module` as an internal module. Packages that import it (devtools runs the app) made grimp record it
    as a squashed external one: replace that node, keeping the imports of it."""
    if module in graph.modules and graph.is_module_squashed(module):
        importers = [(importer, graph.get_import_details(importer=importer, imported=module))
                     for importer in graph.find_modules_that_directly_import(module)]
        graph.remove_module(module)
        graph.add_module(module)
        for importer, details in importers:
            for detail in details or [{"line_number": 0, "line_contents": ""}]:
                graph.add_import(importer=importer, imported=module, line_number=detail["line_number"],
                                 line_contents=detail["line_contents"])
    elif module not in graph.modules:
        graph.add_module(module)


def _known_module(graph: ImportGraph, name: str) -> str | None:
    return name if name in graph.modules else None


def _graph_name(graph: ImportGraph, name: str) -> str:
    """Internal modules keep their name; anything outside the root packages is its squashed top-level package,
    as grimp records external imports."""
    if name in graph.modules and not graph.is_module_squashed(name):
        return name
    root = name.split(".")[0]
    if root in graph.modules and not graph.is_module_squashed(root):
        return name  # an internal module grimp did not see (it does not exist): keep the name so it is reported
    if root not in graph.modules:
        graph.add_module(root, is_squashed=True)
    return root
