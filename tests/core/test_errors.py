"""Outcomes live in one module, and its docstring draws their tree as it is."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pipeline
from pipeline import errors


def _pipeline_modules() -> list[object]:
    return [importlib.import_module(m.name) for m in pkgutil.walk_packages(pipeline.__path__, "pipeline.")]


def test_every_error_class_of_the_pipeline_is_defined_in_errors() -> None:
    """No module of pipeline/ defines an exception class of its own: each lives in pipeline/errors.py."""
    elsewhere = sorted(
        f"{obj.__module__}.{name}"
        for module in _pipeline_modules()
        for name, obj in inspect.getmembers(module, inspect.isclass)
        if issubclass(obj, BaseException)
        and obj.__module__.startswith("pipeline.")
        and obj.__module__ != errors.__name__
    )
    assert elsewhere == []


def test_the_docstring_draws_the_hierarchy_as_it_is() -> None:
    """Each class of pipeline.errors appears once in the module docstring's tree, under its real parent."""
    drawn: dict[str, str] = {}
    parents: list[str] = []
    for line in (errors.__doc__ or "").splitlines():
        drawing = line.lstrip(" │├└─")
        name = drawing.split(" ", 1)[0]
        if not hasattr(errors, name):
            continue
        depth = (len(line) - len(drawing)) // 4 - 1  # the tree is drawn four columns a level
        del parents[depth:]
        if parents:
            drawn[name] = parents[-1]
        parents.append(name)
    classes = {
        name: cls.__bases__[0].__name__
        for name, cls in inspect.getmembers(errors, inspect.isclass)
        if issubclass(cls, errors.NewsflowError) and cls is not errors.NewsflowError
    }
    assert drawn == classes
