"""The Elasticsearch fixtures of the contract suite (noida-db or ELASTICSEARCH_URL), shared here."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

_name = "newsflow_tests_es_fixtures"
if _name not in sys.modules:
    _spec = importlib.util.spec_from_file_location(_name, Path(__file__).parents[1] / "contract" / "conftest.py")
    assert _spec and _spec.loader
    sys.modules[_name] = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(sys.modules[_name])
_fixtures = sys.modules[_name]

es_url = _fixtures.es_url
es_session_prefix = _fixtures.es_session_prefix
make_es_backend = _fixtures.make_es_backend
noida = _fixtures.noida
