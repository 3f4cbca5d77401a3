"""Which of our modules open network connections, read from the source (every import, function bodies included):
the check behind "no code reaches a third party except through a declared integration"."""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Our code: the apps and the project package (tests, benchmarks and migrations open no connection to a provider).
PACKAGES = ("mindomo", "accounts", "schools", "consent", "grading", "billing", "privacy", "analytics", "api")
GATE = "disclosure_authorize"


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def source_files(root: Path = ROOT, packages: Iterable[str] = PACKAGES) -> list[Path]:
    return sorted(
        path for package in packages for path in (root / package).rglob("*.py") if "migrations" not in path.parts
    )


def imported(tree: ast.AST) -> set[str]:
    """Every module the code imports: ``import a.b``, ``from a import b`` (as ``a`` and ``a.b``), and
    ``importlib.import_module("a.b")`` / ``__import__("a.b")`` with a literal name."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if called in {"import_module", "__import__"} and isinstance(node.args[0].value, str):
                names.add(node.args[0].value)
    return names


def clients_used(names: set[str], clients: Iterable[str]) -> set[str]:
    """The network clients among ``names`` (a client ``a`` covers ``a.x``)."""
    return {c for c in clients for name in names if name == c or name.startswith(c + ".")}


def calls_the_gate(tree: ast.AST) -> bool:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            if (isinstance(func, ast.Attribute) and func.attr == GATE) or (
                isinstance(func, ast.Name) and func.id == GATE
            ):
                return True
    return False


def violations(
    *,
    files: Iterable[Path],
    integrations: Mapping[str, tuple[str, ...]],
    integral: Mapping[str, bool],
    clients: Iterable[str],
    root: Path = ROOT,
) -> list[str]:
    """What breaks the rule, one line each: a module importing a network client without being declared for a
    provider; a declared module of a provider that is not integral that never calls the gate."""
    clients = tuple(clients)
    provider_of = {module: provider for provider, modules in integrations.items() for module in modules}
    problems = []
    for path in files:
        name = module_name(path, root)
        tree = ast.parse(path.read_text(), filename=str(path))
        used = clients_used(imported(tree), clients)
        provider = provider_of.get(name)
        if used and provider is None:
            problems.append(f"{name} imports {sorted(used)} but is no declared integration (INTEGRATIONS)")
        if provider is not None and not integral[provider] and not calls_the_gate(tree):
            problems.append(f"{name} reaches {provider}, which is not integral, without calling {GATE}")
    return problems
