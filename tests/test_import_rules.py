"""The shape of the code, read from its imports (every ``import`` statement, at module level or inside a function):

- ``portal/`` (the domain and its services) imports no site: ``public_site`` and ``staff_site`` import the core,
  never the other way round. The one exception is the composition root, ``portal/__init__.py``, whose
  ``create_app`` registers the sites' blueprints.
- ``portal/`` never imports ``worker/``: the worker imports the core, and its commands reach the ``portal`` program
  by registration (entry points in pyproject.toml).
- The two sites do not import each other.
- No import circle, except blueprint registration: a module that defines a blueprint ``bp`` may import the modules
  that add their routes to it (``from <that module> import bp``), as ``public_site/views.py`` does.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("portal", "public_site", "staff_site", "tenants", "worker")
SITES = ("public_site", "staff_site")
#: The app factory: the only module of portal/ allowed to import the sites.
COMPOSITION_ROOT = "portal"


def _package(module: str) -> str:
    return module.partition(".")[0]


def _module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def import_graph(root: Path, packages=PACKAGES) -> tuple[dict[str, set[str]], set[tuple[str, str]]]:
    """Module -> the modules of ``packages`` it imports; and the (module, blueprint module) pairs of the modules
    that import ``bp`` from a module to add their routes to its blueprint."""
    files = {_module_name(root, path): path for package in packages for path in (root / package).rglob("*.py")}

    def resolve(name: str) -> str | None:
        while name and name not in files:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {}
    registers_on: set[tuple[str, str]] = set()
    for module, path in files.items():
        imported: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                imported.update(filter(None, (resolve(alias.name) for alias in node.names)))
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = module if path.name == "__init__.py" else module.rpartition(".")[0]
                    for _ in range(node.level - 1):
                        anchor = anchor.rpartition(".")[0]
                    base = f"{anchor}.{base}".strip(".")
                source = resolve(base)
                for alias in node.names:
                    target = f"{base}.{alias.name}"
                    imported.add(target if target in files else source)
                    if alias.name == "bp" and source == base:
                        registers_on.add((module, source))
        imported.discard(None)
        imported.discard(module)
        graph[module] = imported
    return graph, registers_on


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
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


def violations(root: Path, packages=PACKAGES) -> list[str]:
    graph, registers_on = import_graph(root, packages)
    problems = []
    for module, imported in sorted(graph.items()):
        for target in sorted(imported):
            if _package(module) == "portal" and _package(target) in SITES and module != COMPOSITION_ROOT:
                problems.append(f"{module} imports the site module {target} (only {COMPOSITION_ROOT} may)")
            if _package(module) == "portal" and _package(target) == "worker":
                problems.append(f"{module} imports {target}: portal/ never imports worker/")
            if _package(module) in SITES and _package(target) in SITES and _package(target) != _package(module):
                problems.append(f"{module} imports {target}: one site never imports the other")
    # Blueprint registration: the blueprint's module importing the modules that add routes to it.
    without_registration = {
        module: {target for target in imported if (target, module) not in registers_on}
        for module, imported in graph.items()
    }
    for component in _cycles(without_registration):
        problems.append("import circle: " + " <-> ".join(component))
    return problems


def test_the_code_keeps_its_import_rules():
    assert violations(ROOT) == []


def test_the_composition_root_is_what_registers_the_sites():
    graph, _registers_on = import_graph(ROOT)
    assert {"public_site.views", "staff_site.views", "public_site.api", "staff_site.api"} <= graph[COMPOSITION_ROOT]


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


# A small tree that keeps every rule: a core with its app factory, two sites registering routes, a worker.
GOOD = {
    "portal/__init__.py": "def create_app():\n    import public_site.views\n    import staff_site.views\n",
    "portal/rules.py": "import tenants.tree\n",
    "tenants/__init__.py": "",
    "tenants/tree.py": "",
    "public_site/__init__.py": "",
    "public_site/views.py": "bp = object()\nfrom public_site import pages\n",
    "public_site/pages.py": "from public_site.views import bp\nfrom portal.rules import x\n",
    "staff_site/__init__.py": "",
    "staff_site/views.py": "bp = object()\nfrom staff_site import pages\n",
    "staff_site/pages.py": "from staff_site.views import bp\nimport worker.queues\n",
    "worker/__init__.py": "",
    "worker/queues.py": "def work():\n    from portal.rules import x\n",
}


def test_a_tree_that_keeps_the_rules_passes(tmp_path):
    _write(tmp_path, GOOD)
    assert violations(tmp_path) == []


def test_each_broken_rule_is_named(tmp_path):
    _write(
        tmp_path,
        {
            **GOOD,
            "portal/rules.py": "def f():\n    from staff_site.pages import g\n",  # the core imports a site
            "portal/cli.py": "from worker import queues\n",  # the core imports the worker
            "public_site/pages.py": "from public_site.views import bp\nfrom staff_site import views\n",
            "tenants/tree.py": "from tenants import scoping\n",  # a circle that is no registration
            "tenants/scoping.py": "def f():\n    from tenants.tree import g\n",
        },
    )
    problems = violations(tmp_path)
    assert "portal.rules imports the site module staff_site.pages (only portal may)" in problems
    assert "portal.cli imports worker.queues: portal/ never imports worker/" in problems
    assert "public_site.pages imports staff_site.views: one site never imports the other" in problems
    assert "import circle: tenants.scoping <-> tenants.tree" in problems
