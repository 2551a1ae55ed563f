"""Installing: the lock files pin what pyproject.toml asks for, and the environment is rebuilt
whenever they change."""

from __future__ import annotations

import importlib.util
import re
import tomllib
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", re.M)


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(lock: Path) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for name, version in PIN.findall(lock.read_text(encoding="utf-8")):
        found.setdefault(canonical(name), set()).add(version)
    return found


def requirement_names(requirements: list[str]) -> set[str]:
    return {canonical(re.split(r"[\s\[<>=!~;]", r, maxsplit=1)[0]) for r in requirements}


def load_dev_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("newsflow_dev_script", ROOT / "scripts" / "dev.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_locks_pin_every_dependency_with_hashes() -> None:
    """Every dependency is pinned with hashes; the image's lock uses the dev lock's versions."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    runtime, dev = pins(ROOT / "requirements.lock"), pins(ROOT / "requirements-dev.lock")
    assert requirement_names(project["dependencies"]) <= runtime.keys()
    assert requirement_names(project["dependencies"] + project["optional-dependencies"]["test"]) <= dev.keys()
    # The image runs the versions the tests ran with.
    assert all(runtime[name] <= dev[name] for name in runtime)
    for lock in ("requirements.lock", "requirements-dev.lock"):
        text = (ROOT / lock).read_text(encoding="utf-8")
        assert text.count("--hash=sha256:") >= len(PIN.findall(text))


def test_lxml_html_clean_is_a_direct_dependency() -> None:
    """pip 23 drops lxml's renamed html-clean extra; trafilatura needs the package anyway."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert "lxml-html-clean" in requirement_names(project["dependencies"])


def test_environment_is_rebuilt_when_the_lock_or_the_mode_changes(tmp_path: Path) -> None:
    """The environment's fingerprint changes with the lock and with NEWSFLOW_UNLOCKED."""
    fingerprint = load_dev_script().fingerprint
    project, lock = tmp_path / "pyproject.toml", tmp_path / "requirements-dev.lock"
    project.write_text("[project]\nname = 'x'\n")
    lock.write_text("amqp==5.4.2\n")
    locked = fingerprint([project, lock], False)
    assert fingerprint([project, lock], False) == locked
    lock.write_text("amqp==5.4.3\n")
    bumped = fingerprint([project, lock], False)
    assert bumped != locked
    assert fingerprint([project, lock], True) not in {locked, bumped}


def test_image_and_ci_install_from_the_locks() -> None:
    """The Dockerfile installs requirements.lock with hashes; CI runs dev.py, which installs the dev lock."""
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert "pip install --require-hashes --no-deps -r requirements.lock" in dockerfile
    assert "scripts/dev.py test" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "--require-hashes" in (ROOT / "scripts" / "dev.py").read_text(encoding="utf-8")
