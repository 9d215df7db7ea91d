"""The layout stays as docs/architecture.md draws it: rooms whose imports flow one way, no import
cycle anywhere, the report free of the search loop and the evaluators, and the presets shipped
inside the package (checked in an installed wheel, run from another directory), and no Markdown
file links to a path that is not there."""

import ast
import importlib
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import networkx as nx
import pytest

ROOT = Path(__file__).resolve().parents[1]

# Lower rooms first; a module may import its own room and lower ones, never a higher one.
LAYERS = [
    ["akd.errors"],
    ["akd.common", "akd.arms"],
    ["akd.data"],
    ["akd.tables"],
    ["akd.distill"],
    ["akd.latency"],
    ["akd.predict"],
    ["akd.config"],
    ["akd.components"],
    ["akd.execution"],
    ["akd.search"],
    ["akd.final"],
    ["akd.reporting"],
    ["research.studies", "akd.export"],
    ["akd.cli"],
]
RANK = {room: rank for rank, rooms in enumerate(LAYERS) for room in rooms}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules(package: str) -> dict[str, Path]:
    return {module_name(p): p for p in sorted((ROOT / package).rglob("*.py"))}


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The known modules that ``name`` imports anywhere in its file (lazy imports included)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            # "from .. import io" imports the module akd.io, "from ..io import x" the module too
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base
                       for a in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:  # a.b.c where a.b is the module
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def import_graph(*packages: str) -> nx.DiGraph:
    files = {name: path for package in packages for name, path in modules(package).items()}
    graph = nx.DiGraph()
    graph.add_nodes_from(files)
    for name, path in files.items():
        graph.add_edges_from((name, target) for target in imports_of(name, path, set(files)))
    return graph


def room(module: str) -> str | None:
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 1 else None


def test_every_module_of_akd_is_in_a_room():
    rooms = {room(m) for m in modules("akd")} - {None}
    assert rooms <= set(RANK), f"rooms missing from LAYERS: {sorted(rooms - set(RANK))}"


def test_no_import_cycle():
    graph = import_graph("akd", "controllers", "search_spaces")
    cycles = list(nx.simple_cycles(graph))
    assert not cycles, f"import cycles: {cycles[:5]}"


def test_imports_flow_one_way():
    graph = import_graph("akd")
    upward = [(a, b) for a, b in graph.edges
              if room(a) and room(b) and RANK[room(b)] > RANK[room(a)]]
    assert not upward, "imports of a higher room: " + ", ".join(f"{a} -> {b}" for a, b in upward)


def test_controllers_and_search_spaces_never_import_akd():
    for package in ("controllers", "search_spaces"):
        for name, path in modules(package).items():
            assert not any(target == "akd" or target.startswith("akd.") for target in
                           imports_of(name, path, set(modules("akd")) | {"akd"})), name


def akd_imports(path: Path) -> list[tuple[str, list[str]]]:
    """Every import of akd in a file: (the module named, the names taken from it)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and (
                node.module == "akd" or node.module.startswith("akd.")):
            found.append((node.module, [alias.name for alias in node.names]))
        elif isinstance(node, ast.Import):
            found += [(alias.name, []) for alias in node.names
                      if alias.name == "akd" or alias.name.startswith("akd.")]
    return found


def public_names(module: str) -> set[str]:
    """What ``module`` offers as public API: its ``__all__`` (a package of akd, or akd itself),
    else its names without a leading underscore (a top-level module such as akd.config)."""
    loaded = importlib.import_module(module)
    return set(getattr(loaded, "__all__", None) or
               (name for name in vars(loaded) if not name.startswith("_")))


def test_the_research_uses_akds_public_api_only():
    """research/ (not installed) stands on what akd exports, as any user's code would: akd, its
    packages' ``__all__``, the public names of its top-level modules; never a module inside a
    package of akd (a private layout the tool may change)."""
    wrong = []
    for path in sorted((ROOT / "research").rglob("*.py")):
        for module, names in akd_imports(path):
            where = f"{path.relative_to(ROOT)}: {module}"
            if module.count(".") > 1:
                wrong.append(f"{where} is inside a package of akd")
                continue
            if (ROOT / module.replace(".", "/")).is_dir() and module != "akd" and \
                    not hasattr(importlib.import_module(module), "__all__"):
                wrong.append(f"{where} has no __all__")
                continue
            private = sorted(set(names) - public_names(module) - {"*"})
            if private:
                wrong.append(f"{where} does not export {', '.join(private)}")
    assert not wrong, "research imports akd's internals: " + "; ".join(wrong)


def test_akd_never_imports_the_research():
    for name, path in modules("akd").items():
        assert not any(target == "research" or target.startswith("research.") for target in
                       imports_of(name, path, set(modules("research")) | {"research"})), name


def loaded_with(module: str, graph: nx.DiGraph) -> set[str]:
    """What importing ``module`` loads: its imports, and the packages above each (whose
    ``__init__`` runs first), transitively."""
    seen, todo = set(), [module]
    while todo:
        current = todo.pop()
        if current in seen or current not in graph:
            continue
        seen.add(current)
        parts = current.split(".")
        todo += [".".join(parts[:i]) for i in range(1, len(parts))]
        todo += list(graph.successors(current))
    return seen


def test_the_report_never_loads_the_search_loop_or_an_evaluator():
    graph = import_graph("akd")
    for module in [m for m in graph if m.startswith("akd.reporting")]:
        loaded = loaded_with(module, graph)
        forbidden = sorted(m for m in loaded
                           if m == "akd.search.loop" or m.startswith("akd.execution"))
        assert not forbidden, f"{module} loads {forbidden}"


@pytest.mark.slow
def test_an_installed_wheel_ships_the_presets_and_runs_from_anywhere(tmp_path):
    """pip install . (not editable): the wheel holds the tool's presets and tables and none of the
    research, and the installed command finds them from a directory that is not the checkout."""
    wheels, target = tmp_path / "wheels", tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(wheels), str(ROOT)], check=True, timeout=300)
    [wheel] = wheels.glob("akd-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert {"akd/presets/quick.yaml", "akd/presets/demo.yaml",
            "akd/tables/shipped/fashion_mnist-small28/table.jsonl.gz",
            "akd/tables/shipped/fashion_mnist-small28/config.yaml",
            "akd/tables/shipped/fashion_mnist-small28-ladder/ladder.jsonl.gz"} <= set(names)
    # the tool only: the research that produced the documents stays in the checkout
    research = [n for n in names if n.startswith(("research/", "experiments/", "akd/studies"))]
    assert not research, f"the wheel holds the research: {research[:5]}"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target",
                    str(target), str(wheel)], check=True, timeout=300)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(target)}
    command = [sys.executable, str(target / "bin" / "akd-search")]
    shown = subprocess.run(command + ["--help"], cwd=elsewhere, env=env, capture_output=True,
                           text=True, timeout=120)
    assert shown.returncode == 0, shown.stderr
    assert "preset name (cifar10, demo, quick)" in " ".join(shown.stdout.split())
    # the one command, with a subcommand for each thing a user does
    umbrella = [sys.executable, str(target / "bin" / "akd")]
    shown = subprocess.run(umbrella + ["--help"], cwd=elsewhere, env=env, capture_output=True,
                           text=True, timeout=120)
    assert shown.returncode == 0, shown.stderr
    assert re.findall(r"^    (\w+) ", shown.stdout, re.MULTILINE) == ["search", "analyze", "export"]
    shown = subprocess.run(umbrella + ["search", "--help"], cwd=elsewhere, env=env,
                           capture_output=True, text=True, timeout=120)
    assert "max_failures = 5" in shown.stdout and "--final-only" in shown.stdout
    check = ("import akd, akd.config as c; assert akd.__file__.startswith(%r), akd.__file__; "
             "print(c.load_config(c.config_path('quick')).search.trials); "
             "print(len(akd.load_table('fashion_mnist-small28').archs) > 0)" % str(target))
    loaded = subprocess.run([sys.executable, "-c", check], cwd=elsewhere, env=env,
                            capture_output=True, text=True, timeout=120)
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.split() == ["4", "True"]  # the quick preset; the shipped table


MARKDOWN_LINK = re.compile(r"\]\(([^)\s]+)\)")


def test_every_relative_link_in_the_markdown_files_resolves():
    # the shipped tables' READMEs and the docs link each other across rooms; a moved file or a
    # miscounted ../ would leave a reader on a dead link
    listed = subprocess.run(["git", "ls-files", "*.md"], cwd=ROOT, capture_output=True,
                            text=True, check=True).stdout.split()
    assert listed, "git lists no Markdown file"
    dead = []
    for name in listed:
        page = ROOT / name
        for target in MARKDOWN_LINK.findall(page.read_text(encoding="utf-8")):
            # a URL, an anchor on this page, or prose such as "[KD - CLS](AKDNet)": not a path
            if re.match(r"[a-z]+:|#", target) or not re.search(r"[./]", target):
                continue
            path = target.split("#", 1)[0]
            if not (page.parent / path).exists():
                dead.append(f"{name}: {target}")
    assert not dead, "dead links: " + "; ".join(dead)
