"""Type hints on every public function of gentk, the built-in plugins and the example plugin
(#24 item 6): read from the source, so nothing is imported."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ["gentk", "plugins", "examples/third_party_plugin/gentk_example_plugin"]


def _public(name: str) -> bool:
    return not name.startswith("_") or name in ("__init__", "__call__")


def untyped_parameters(source: str) -> list[str]:
    """``function(parameter)`` for every parameter without an annotation of a public function
    or of a public method of a public class (``self``, ``cls``, ``*args`` and ``**kwargs``
    aside); functions nested in functions are private to them and not counted."""
    missing = []

    def visit(node: ast.AST, owner: str, public: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef):
                visit(child, f"{child.name}.", public and not child.name.startswith("_"))
            elif isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                if not (public and _public(child.name)):
                    continue
                args = child.args
                for arg in args.posonlyargs + args.args + args.kwonlyargs:
                    if arg.annotation is None and arg.arg not in ("self", "cls"):
                        missing.append(f"{owner}{child.name}({arg.arg})")

    visit(ast.parse(source), "", True)
    return missing


def test_the_checker_finds_untyped_parameters():
    source = '''
def f(a, b: int, *args, c=1, **kwargs): ...
def _private(a): ...
class C:
    def __init__(self, x): ...
    def m(self, y: int, z): ...
    def _helper(self, w): ...
class _Hidden:
    def m(self, v): ...
def outer(p: int):
    def inner(q): ...
'''
    assert untyped_parameters(source) == ["f(a)", "f(c)", "C.__init__(x)", "C.m(z)"]


def test_every_public_function_is_typed():
    missing = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT)
            missing += [f"{rel}: {m}" for m in untyped_parameters(path.read_text())]
    assert not missing, f"{len(missing)} untyped parameters: {', '.join(missing[:20])}"
