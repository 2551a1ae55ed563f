"""`newsflow clean FILE-or-URL`: one page cleaned and shown, without Redis.

Files are real files; URLs are served by a real HTTP server on 127.0.0.1 and fetched
through the real fetcher and its address guard.
"""

from __future__ import annotations

import argparse
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from pipeline.cleaning.kind import NOT_ARTICLE_SCORE
from pipeline.settings import Settings
from workers.cli.clean import cmd_clean, register

STORY = [
    "Sáng 20/3, Hội Nông dân tỉnh tổ chức hội nghị tổng kết đề án hỗ trợ nông dân chuyển đổi giống cây trồng.",
    "Theo báo cáo, sau ba năm, hơn bốn nghìn hộ đã chuyển sang trồng các giống lúa chịu hạn, năng suất tăng rõ rệt.",
    "Đại biểu các huyện đề nghị tỉnh tiếp tục hỗ trợ phân bón và mở thêm lớp tập huấn kỹ thuật cho bà con vùng cao.",
]
RAIL = [
    ("/thoi-su/khai-truong-cho-phien-vung-cao-2025-10230.html", "Khai trương chợ phiên vùng cao"),
    ("/thoi-su/sua-chua-tuyen-duong-lien-xa-2025-10228.html", "Sửa chữa tuyến đường liên xã"),
    ("/xa-hoi/truong-hoc-moi-cho-tre-em-ban-xa-2025-10221.html", "Trường học mới cho trẻ em bản xa"),
]
PATH = "/thoi-su/hoi-nghi-tong-ket-de-an-2025-10234.html"


def page() -> bytes:
    paras = "".join(f"<p>{p}</p>" for p in STORY)
    items = "".join(f'<li><h3><a href="{h}">{t}</a></h3><p>Tin địa phương trong tuần.</p></li>' for h, t in RAIL)
    return (
        '<!DOCTYPE html><html lang="vi"><head><meta charset="utf-8"><title>Hội nghị tổng kết đề án</title></head>'
        f"<body><article><h1>Hội nghị tổng kết đề án</h1>{paras}</article>"
        f'<div class="box-cat"><h2>Cùng chủ đề</h2><ul>{items}</ul></div></body></html>'
    ).encode()


class _Pages(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = page() if self.path == PATH else b"not here"
        self.send_response(200 if self.path == PATH else 404)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Pages)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="newsflow")
    register(parser.add_subparsers())
    return parser.parse_args(["clean", *argv])


def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path, allow_private_networks="127.0.0.1/32")


def test_a_file_shows_kept_text_removed_teasers_and_related_links(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The story is kept, the rail is a removed teaser block, its links are listed as related."""
    path = tmp_path / "page.html"
    path.write_bytes(page())
    assert cmd_clean(settings(tmp_path), args(str(path), "--url", "https://baotinhxa.vn" + PATH)) == 0
    out = capsys.readouterr().out
    kept = [line for line in out.splitlines() if line.startswith("[KEEP")]
    for para in STORY:
        assert any(para[:60] in line for line in kept)
    assert "DROP teaser block" in out and "Cùng chủ đề" in out
    for href, title in RAIL:
        assert f"https://baotinhxa.vn{href}  {title}" in out


def test_a_url_is_fetched_through_the_guard_and_json_says_everything(
    tmp_path: Path, server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Fetched from a real local server (its network allowed); --json carries body, blocks and links."""
    assert cmd_clean(settings(tmp_path), args(server + PATH, "--json")) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["body"] == "\n\n".join(STORY)
    assert [link["title"] for link in doc["related"]] == [t for _, t in RAIL]
    assert doc["teaser_blocks"] and doc["extractor"] == "classifier"
    assert 0.0 <= doc["not_article"] < NOT_ARTICLE_SCORE  # the page-kind model's call: an article
    story = [b for b in doc["blocks"] if b["text"] in STORY]
    assert len(story) == len(STORY)
    for b in story:  # each block says what the classifier made of it, with its scores
        assert b["removed"] is None and b["class"] == "article"
        assert b["scores"]["article"] > max(b["scores"]["boilerplate"], b["scores"]["teaser"])


def test_an_address_the_guard_refuses_is_one_clear_line(
    tmp_path: Path, server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """127.0.0.2 is outside what the settings allow: refused before any request, exit 1."""
    port = server.rsplit(":", 1)[1]
    assert cmd_clean(settings(tmp_path), args(f"http://127.0.0.2:{port}{PATH}")) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("newsflow clean:") and "\n" not in err
    assert "127.0.0.2" in err


def test_a_missing_file_and_a_page_without_text_are_one_line_each(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cmd_clean(settings(tmp_path), args(str(tmp_path / "nope.html"))) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("newsflow clean: cannot read") and "\n" not in err
    menu = tmp_path / "menu.html"
    menu.write_bytes(b"<html><body><nav><a href='/'>Home</a></nav></body></html>")
    assert cmd_clean(settings(tmp_path), args(str(menu))) == 1
    err = capsys.readouterr().err.strip()
    assert "no article text" in err and "\n" not in err
