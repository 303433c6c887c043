"""Every public function has a numpydoc docstring and a stub in __init__.pyi (house rules)."""
import ast
import inspect
import pathlib

import pytest

import softmax_fast as sf

PUBLIC = [name for name in sf.__all__ if callable(getattr(sf, name))]
STUB = pathlib.Path(sf.__file__).with_name("__init__.pyi")


@pytest.mark.parametrize("name", PUBLIC)
def test_docstring_sections(name):
    doc = inspect.getdoc(getattr(sf, name)) or ""
    sections = ["Returns", "Examples"]
    if inspect.signature(getattr(sf, name)).parameters:
        sections += ["Parameters", "Raises"]
    for section in sections:
        assert f"{section}\n{'-' * len(section)}" in doc, f"{name}: no {section} section"


@pytest.mark.parametrize("name", PUBLIC)
def test_stub_matches_signature(name):
    tree = ast.parse(STUB.read_text())
    stubs = {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}
    assert name in stubs, f"{name}: no stub in __init__.pyi"
    args = stubs[name].args
    stub_params = [a.arg for a in args.posonlyargs + args.args + args.kwonlyargs]
    assert stub_params == list(inspect.signature(getattr(sf, name)).parameters), name
