"""The generated reference pages match the code, and go stale when a setting, flag or route is added."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from pipeline.settings import Settings
from workers import docgen
from workers.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]


def test_every_reference_page_is_as_the_code_generates_it() -> None:
    """docs/reference/*.md is what `workers.docgen` writes now; the failure says how to regenerate."""
    pages = docgen.generate()
    behind = docgen.stale(ROOT, pages)
    assert not behind, (
        f"stale: {', '.join(map(str, behind))}; the code changed without its reference pages: "
        f"run `{docgen.REGENERATE}` and commit them"
    )


def test_a_new_setting_makes_the_configuration_page_stale(tmp_path: Path) -> None:
    """A field added to Settings changes the page, with its name, variable, default and docstring."""

    class MoreSettings(Settings):
        brand_new_knob: int = 7
        """How many knobs to turn."""

    before = docgen.configuration_page()
    after = docgen.configuration_page(MoreSettings)
    assert after != before
    assert "`NEWSFLOW_BRAND_NEW_KNOB`" in after and "How many knobs to turn." in after and "`7`" in after
    (tmp_path / docgen.REFERENCE).mkdir(parents=True)
    (tmp_path / docgen.REFERENCE / "configuration.md").write_text(before, encoding="utf-8")
    assert docgen.stale(tmp_path, {docgen.REFERENCE / "configuration.md": after}) == [
        docgen.REFERENCE / "configuration.md"
    ]


def test_a_setting_without_a_docstring_cannot_be_documented() -> None:
    """A field with no description is an error naming it, not a silent blank in the reference."""

    class Undocumented(Settings):
        mystery: int = 1

    with pytest.raises(ValueError, match="mystery"):
        docgen.configuration_page(Undocumented)


def test_every_setting_is_described() -> None:
    """Each Settings field carries its docstring as the description (the reference's one source)."""
    missing = [name for name, field in Settings.model_fields.items() if not (field.description or "").strip()]
    assert missing == []


def _subparser(parser: argparse.ArgumentParser, name: str) -> argparse.ArgumentParser:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return action.choices[name]


def test_a_new_flag_makes_the_command_line_page_stale() -> None:
    """An option added to a command appears in the page, which then differs from the one in the tree."""
    parser = build_parser()
    _subparser(parser, "status").add_argument("--brand-new", metavar="N", default=3, help="a new option")
    page = docgen.cli_page(parser)
    assert page != docgen.cli_page()
    assert "- `--brand-new N`: a new option. Default: `3`." in page
    assert "newsflow status [--json] [--watch] [--brand-new N]" in page


def test_every_command_and_option_is_in_the_command_line_page() -> None:
    """Each command (nested ones too) has a section, and each option has a line with a description."""
    page = docgen.cli_page()
    assert "(no description)" not in page

    def walk(parser: argparse.ArgumentParser, prog: str) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    assert f"`{prog} {name}`" in page
                    walk(sub, f"{prog} {name}")
            elif action.option_strings and not isinstance(action, argparse._HelpAction):
                assert f"`{action.option_strings[-1]}" in page or f", {action.option_strings[-1]}" in page

    walk(build_parser(), "newsflow")


def test_a_mutually_exclusive_choice_is_written_as_one() -> None:
    """`drift accept` takes a site or --all, and the page says so in its usage line."""
    assert "newsflow drift accept (SITE | --all)" in docgen.cli_page()


def test_a_new_route_makes_the_api_page_stale() -> None:
    """A route added to the schema appears in the page with its parameters."""
    schema = docgen.openapi_schema()
    schema["paths"]["/api/new"] = {
        "get": {
            "summary": "A new route",
            "parameters": [{"name": "n", "in": "query", "schema": {"type": "integer", "default": 1}}],
            "responses": {"200": {"description": "Fine"}},
        }
    }
    page = docgen.api_page(schema)
    assert page != docgen.api_page()
    assert "## `GET /api/new`" in page and "- `n` (query, integer, default `1`)" in page


def test_check_names_the_stale_page_and_the_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`python -m workers.docgen --check` exits 1 naming each stale page and the command to run."""
    assert docgen.main(["--check"], root=tmp_path) == 1
    assert docgen.REGENERATE in capsys.readouterr().err
    assert docgen.main([], root=tmp_path) == 0
    assert docgen.main(["--check"], root=tmp_path) == 0
    assert (tmp_path / docgen.REFERENCE / "cli.md").read_text(encoding="utf-8") == docgen.cli_page()


def test_the_api_schema_documents_the_answers_the_api_gives() -> None:
    """A bad parameter answers 400 with an ErrorAnswer, so the schema says so and not FastAPI's 422."""
    schema = docgen.openapi_schema()
    search = schema["paths"]["/api/search"]["get"]["responses"]
    assert "400" in search and "422" not in search
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    assert "- 400 (`application/json` [ErrorAnswer](#erroranswer))" in docgen.api_page(schema)
