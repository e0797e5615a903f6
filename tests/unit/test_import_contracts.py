"""The forbidden contract that also covers top-level single-file modules (app.py), used by `make lint-imports`."""
from __future__ import annotations

import textwrap

import pytest
from grimp import ImportGraph
from importlinter import configuration

from devtools.import_contracts import ForbiddenWithTopLevelModules


@pytest.fixture(autouse=True, scope="module")
def import_linter_configured():
    """The lint-imports CLI sets up import-linter's adapters (the contracts time their searches) before checking."""
    configuration.configure()


def packages_graph(*imports: tuple[str, str]) -> ImportGraph:
    """A graph of the root packages `pkg` and `tools` with the given (importer, imported) module imports."""
    graph = ImportGraph()
    for module in ("pkg", "pkg.web", "pkg.core", "tools", "tools.runner"):
        graph.add_module(module)
    for importer, imported in imports:
        graph.add_import(importer=importer, imported=imported, line_number=1, line_contents="import x")
    return graph


def check(graph: ImportGraph, tmp_path, monkeypatch, source: str):
    (tmp_path / "entry.py").write_text(textwrap.dedent(source))
    monkeypatch.syspath_prepend(str(tmp_path))
    contract = ForbiddenWithTopLevelModules(
        name="entry and pkg: no tools", session_options={"root_packages": ["pkg", "tools"]},
        contract_options={"top_level_modules": ["entry"], "source_modules": ["pkg", "entry"],
                          "forbidden_modules": ["tools"]})
    return contract.check(graph, verbose=False)


def chains_of(result) -> list[list[tuple[str, str, tuple]]]:
    return [[(link["importer"], link["imported"], link["line_numbers"]) for link in chain]
            for data in result.metadata["invalid_chains"] for chain in data["chains"]]


def test_a_direct_import_in_the_module_breaks_the_contract(tmp_path, monkeypatch):
    result = check(packages_graph(), tmp_path, monkeypatch, """\
        import os
        from pkg import web

        def later():
            from tools.runner import main  # nested imports count, as grimp counts them
        """)
    assert not result.kept
    assert chains_of(result) == [[("entry", "tools.runner", (5,))]]


def test_a_chain_through_the_packages_breaks_the_contract(tmp_path, monkeypatch):
    result = check(packages_graph(("pkg.core", "tools.runner")), tmp_path, monkeypatch, "from pkg.web import x\n"
                   "import pkg.core\n")
    assert not result.kept
    assert [("entry", "pkg.core", (2,)), ("pkg.core", "tools.runner", (1,))] in chains_of(result)


def test_imports_of_allowed_modules_keep_it(tmp_path, monkeypatch):
    result = check(packages_graph(), tmp_path, monkeypatch, "import json\nfrom pkg import web, core\n")
    assert result.kept


def test_a_module_the_packages_import_is_graphed_with_its_own_imports(tmp_path, monkeypatch):
    """grimp records `tools -> entry` as an import of a squashed external module; the contract still reads
    entry's imports, and the importers of entry stay in the graph."""
    graph = packages_graph()
    graph.add_module("entry", is_squashed=True)
    graph.add_import(importer="tools.runner", imported="entry", line_number=3, line_contents="import entry")
    result = check(graph, tmp_path, monkeypatch, "import tools\n")
    assert not result.kept
    assert graph.find_modules_that_directly_import("entry") == {"tools.runner"}


def test_a_package_is_not_a_top_level_module(tmp_path, monkeypatch):
    (tmp_path / "entry").mkdir()
    (tmp_path / "entry" / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    contract = ForbiddenWithTopLevelModules(
        name="n", session_options={"root_packages": ["pkg"]},
        contract_options={"top_level_modules": ["entry"], "source_modules": ["entry"], "forbidden_modules": ["pkg"]})
    with pytest.raises(ValueError, match="not a single-file module"):
        contract.check(packages_graph(), verbose=False)
