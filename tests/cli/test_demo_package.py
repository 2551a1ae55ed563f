"""The demo is a package of its own, outside the runtime; its test server needs nothing else."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import demo

ROOT = Path(__file__).resolve().parents[2]


def test_site_server_imports_nothing_of_newsflow() -> None:
    """Tests and benchmarks import `demo.server` without loading the runtime or the pipeline."""
    code = (
        "import sys\n"
        "from demo.server import SiteServer\n"
        "print(','.join(sorted(n for n in sys.modules if n.split('.')[0] in {'workers', 'pipeline', 'celery'})))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert done.stdout.strip() == ""


def test_every_demo_site_file_is_package_data() -> None:
    """`pip install .` (the Dockerfile) ships the demo sites with the `demo` package."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    assert "demo*" in config["packages"]["find"]["include"]
    patterns = config["package-data"]["demo"]
    root = Path(demo.__file__).parent
    shipped = {path for pattern in patterns for path in root.glob(pattern)}
    files = {path for path in demo.SITES_DIR.rglob("*") if path.is_file()}
    assert files and files <= shipped
