"""The domain layer stays free of the runtime."""

from __future__ import annotations

import subprocess
import sys


def test_pipeline_never_imports_celery() -> None:
    """Importing every pipeline module pulls in neither celery nor kombu."""
    code = (
        "import pkgutil, importlib, sys, pipeline, pipeline.search\n"
        "for m in pkgutil.walk_packages(pipeline.__path__, 'pipeline.'):\n"
        "    importlib.import_module(m.name)\n"
        "bad = sorted(n for n in sys.modules if n.split('.')[0] in {'celery', 'kombu', 'workers'})\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
