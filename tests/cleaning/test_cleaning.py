"""Cleaning one page: teasers out (links kept), repeats out, metadata in. Pure code."""

from __future__ import annotations

import contextlib
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import html as lxml_html

from pipeline.charset import decode_html
from pipeline.cleaning import CleanedPage, clean_page
from pipeline.cleaning.page import (
    _PICTURE_CREDIT,
    Block,
    _both_readings,
    _mark_related_headings,
    _reader_note,
    _split_title,
    read_page,
)
from pipeline.errors import Dropped, PermanentError
from pipeline.teasers import article_url_of, find_teaser_blocks

URL = "https://baotinhxa.vn/thoi-su/hoi-nghi-tong-ket-de-an-ho-tro-nong-dan-2025-10234.html"

BODY = [
    "Sáng 20/3, Hội Nông dân tỉnh tổ chức hội nghị tổng kết đề án hỗ trợ nông dân chuyển đổi giống cây trồng.",
    "Theo báo cáo, sau ba năm, hơn bốn nghìn hộ đã chuyển sang trồng các giống lúa chịu hạn, năng suất tăng bình quân một tạ rưỡi mỗi sào.",
    "Đại biểu các huyện đề nghị tỉnh tiếp tục hỗ trợ phân bón và mở thêm lớp tập huấn kỹ thuật cho bà con vùng cao.",
]
TEASERS = [
    (
        "/thoi-su/khai-truong-cho-phien-vung-cao-2025-10230.html",
        "Khai trương chợ phiên vùng cao",
        "Chợ phiên đầu tiên của xã đã mở cửa với gần trăm gian hàng nông sản của bà con...",
    ),
    (
        "/thoi-su/sua-chua-tuyen-duong-lien-xa-2025-10228.html",
        "Sửa chữa tuyến đường liên xã",
        "Tuyến đường dài mười hai cây số nối ba xã sẽ được sửa chữa xong trước mùa mưa...",
    ),
    (
        "/xa-hoi/truong-hoc-moi-cho-tre-em-ban-xa-2025-10221.html",
        "Trường học mới cho trẻ em bản xa",
        "Ngôi trường hai tầng với tám phòng học vừa được bàn giao cho học sinh bản...",
    ),
]


def page(extra_body: str = "", rail: bool = True) -> bytes:
    first, rest = "".join(f"<p>{p}</p>" for p in BODY[:2]), "".join(f"<p>{p}</p>" for p in BODY[2:])
    figure = (
        '<figure><img src="/a.jpg" alt="Đồng chí"><figcaption><p>Đồng chí Lê Văn Bảy phát biểu tại hội nghị</p>'
        "</figcaption></figure><p>Đồng chí Lê Văn Bảy phát biểu tại hội nghị</p>"
    )
    items = "".join(f'<li><h3><a href="{h}">{t}</a></h3><p>{x}</p></li>' for h, t, x in TEASERS)
    rail_html = f'<div class="box-cat"><h2>Cùng chủ đề</h2><ul>{items}</ul></div>' if rail else ""
    return f"""<!DOCTYPE html><html lang="vi"><head><meta charset="utf-8">
<title>Hội nghị tổng kết đề án hỗ trợ nông dân – Báo Tỉnh Xa</title>
<meta property="og:site_name" content="Báo Tỉnh Xa">
<meta property="article:published_time" content="2025-03-20T08:00:00+07:00">
<link rel="canonical" href="{URL}?utm_source=fb"></head>
<body><header>Powered by Webnho</header><article><h1>Hội nghị tổng kết đề án hỗ trợ nông dân</h1>
{first}{figure}{rest}{extra_body}
<p>Nguồn: https://nguon.example/bai-goc</p></article>{rail_html}
<footer>Bản quyền thuộc về Báo Tỉnh Xa</footer></body></html>""".encode()


def test_teaser_list_leaves_the_body_and_becomes_related_links() -> None:
    """A list of same-site article links with excerpts is cut; its links go to `related`."""
    cleaned = clean_page(page(), URL)
    for _, title, excerpt in TEASERS:
        assert title not in cleaned.body
        assert excerpt[:30] not in cleaned.body
    assert [r.title for r in cleaned.related] == [t for _, t, _ in TEASERS]
    assert all(r.url.startswith("https://baotinhxa.vn/") for r in cleaned.related)
    assert "Cùng chủ đề" not in cleaned.body


QUESTION = "Ông bà đánh giá thế nào về chương trình hỗ trợ giống lúa chịu hạn của tỉnh trong ba năm qua?"


def test_a_paragraph_printed_twice_is_kept_once() -> None:
    """The same paragraph printed again further down (a layout slip) is a repeat."""
    cleaned = clean_page(page(extra_body=f"<p>{BODY[1]}</p>", rail=False), URL)
    assert cleaned.body.count(BODY[1]) == 1
    assert "repeat" in {b.reason for b in cleaned.blocks}


def test_a_question_put_to_each_person_stays_each_time() -> None:
    """A paragraph printed three times or more is the content's pattern (a survey), not a slip."""
    answers = ["Rất tốt, năng suất tăng rõ.", "Cần thêm phân bón cho vụ sau.", "Bà con vùng cao được lợi nhiều nhất."]
    survey = "".join(f"<p><b>{QUESTION}</b></p><p>{a}</p>" for a in answers)
    cleaned = clean_page(page(extra_body=survey, rail=False), URL)
    assert cleaned.body.count(QUESTION) == 3
    assert all(a in cleaned.body for a in answers)


def test_body_paragraphs_stay_in_order() -> None:
    """Every paragraph of the article is kept, in the page's order."""
    body = clean_page(page(), URL).body
    positions = [body.index(p) for p in BODY]
    assert positions == sorted(positions)


def test_caption_printed_twice_and_truncated_alt_are_kept_once() -> None:
    """A caption repeated as text, and a cut alt before it, end as one caption, apart from the body."""
    cleaned = clean_page(page(), URL)
    assert cleaned.captions == ["Đồng chí Lê Văn Bảy phát biểu tại hội nghị"]
    assert "Lê Văn Bảy" not in cleaned.body
    assert "Đồng chí\n" not in cleaned.body + "\n"


def test_metadata_title_site_source_and_canonical() -> None:
    """The site suffix leaves the title; the source line becomes a field; canonical is cleaned."""
    cleaned = clean_page(page(), URL)
    assert cleaned.title == "Hội nghị tổng kết đề án hỗ trợ nông dân"
    assert cleaned.site_name == "Báo Tỉnh Xa"
    assert cleaned.source_url == "https://nguon.example/bai-goc"
    assert "Nguồn:" not in cleaned.body
    assert cleaned.canonical_url == URL
    assert cleaned.language == "vi"
    assert cleaned.published_at is not None and cleaned.published_at.day == 20


def test_inline_read_more_paragraph_is_a_teaser() -> None:
    """A short paragraph that is mostly a link to another article of the site is dropped."""
    extra = '<p>Xem thêm: <a href="/xa-hoi/mua-lu-gay-sat-lo-nhieu-tuyen-duong-2025-10111.html">Mưa lũ gây sạt lở nhiều tuyến đường miền núi</a></p>'
    cleaned = clean_page(page(extra_body=extra), URL)
    assert "Mưa lũ gây sạt lở" not in cleaned.body
    assert any("mua-lu-gay-sat-lo" in r.url for r in cleaned.related)


def test_a_row_of_headline_links_to_a_sister_site_is_a_teaser() -> None:
    """Three paragraphs that are each only a headline link are cut, whichever site they name."""
    stories = [
        ("https://tinmang.example/2025/03/18/nong-dan-thu-hoach-ca-phe-som/", "Nông dân thu hoạch cà phê sớm hai tuần"),
        ("https://tinmang.example/2025/03/17/gia-phan-bon-giam-manh/", "Giá phân bón giảm mạnh trong quý đầu năm"),
        ("https://tinmang.example/2025/03/15/mo-rong-kenh-tuoi-tieu/", "Tỉnh mở rộng hệ thống kênh tưới tiêu nội đồng"),
    ]
    row = "".join(f'<p><a href="{u}">{t}</a></p>' for u, t in stories)
    cleaned = clean_page(page(extra_body=row, rail=False), URL)
    for url, title in stories:
        assert title not in cleaned.body
        assert url in [r.url for r in cleaned.related]
    assert all(p in cleaned.body for p in BODY)


DE_URL = "https://kreisbote.example/lokales/2026/04/neue-bruecke-ueber-die-lahn-freigegeben.html"
DE_BODY = [
    "Nach zwei Jahren Bauzeit ist die neue Brücke über die Lahn am Samstag für den Verkehr freigegeben worden.",
    "Der Bürgermeister dankte den Anwohnern für ihre Geduld während der Sperrung der alten Holzbrücke.",
    "Fußgänger und Radfahrer haben auf der neuen Brücke einen eigenen, breiten Weg auf beiden Seiten.",
]


def de_page(after_story: str) -> bytes:
    story = "".join(f"<p>{p}</p>" for p in DE_BODY)
    return f"""<html lang="de"><head><meta charset="utf-8"><title>Neue Brücke über die Lahn freigegeben</title></head><body>
<div class="beitrag"><h1>Neue Brücke über die Lahn freigegeben</h1>{story}{after_story}</div></body></html>""".encode()


def test_cards_under_the_story_leave_with_their_excerpts() -> None:
    """Cards in the story's own box, each a headline link over an unlinked excerpt: the teaser
    is the card, since cutting the link alone would leave the excerpt in the body."""
    cards = [
        (
            "/lokales/2026/04/stadtfest-findet-wieder-statt.html",
            "Stadtfest findet wieder statt",
            "Nach drei Jahren Pause plant der Verein wieder ein Fest auf dem Marktplatz…",
        ),
        (
            "/lokales/2026/03/neuer-radweg-nach-giessen-geplant.html",
            "Neuer Radweg nach Gießen geplant",
            "Der Kreis will die Lücke zwischen den beiden Orten bis zum Herbst schließen…",
        ),
    ]
    html = "<h4>Weitere Artikel</h4>" + "".join(f'<div><a href="{u}">{t}</a><p>{x}</p></div>' for u, t, x in cards)
    blocks = find_teaser_blocks(lxml_html.document_fromstring(de_page(html)), DE_URL)
    assert [(b.element.tag, b.text) for b in blocks] == [("div", f"{t} {x}") for _, t, x in cards]
    cleaned = clean_page(de_page(html), DE_URL)
    for url, title, excerpt in cards:
        assert title not in cleaned.body
        assert excerpt not in cleaned.body
        assert url.rsplit("/", 1)[1] in " ".join(r.url for r in cleaned.related)
    assert all(p in cleaned.body for p in DE_BODY)


def test_a_link_over_a_long_paragraph_leaves_the_paragraph() -> None:
    """A standalone link to another story over paragraphs of prose in one box: the box is no card."""
    prose = " ".join(DE_BODY) + " Die Kosten lagen am Ende etwas unter der ursprünglichen Schätzung des Landes."
    html = f'<div><a href="/lokales/2026/02/alte-holzbruecke-wird-abgerissen.html">Alte Holzbrücke wird abgerissen</a><p>{prose}</p><p>{prose}</p></div>'
    cleaned = clean_page(de_page(html), DE_URL)
    assert "Alte Holzbrücke wird abgerissen" not in cleaned.body
    assert prose in cleaned.body


RELATED_POSTS = [
    (
        "/lokales/2026/04/stadtfest-findet-wieder-statt.html",
        "Stadtfest findet wieder statt",
        "Nach drei Jahren Pause plant der Verein wieder ein Fest auf dem Marktplatz, mit Musik und […]",
    ),
    (
        "/lokales/2026/03/neuer-radweg-nach-giessen-geplant.html",
        "Neuer Radweg nach Gießen geplant",
        "Der Kreis will die Lücke zwischen den beiden Orten bis zum Herbst schließen…",
    ),
]


def test_related_posts_written_as_paragraphs_leave_with_blurbs_and_heading() -> None:
    """Related posts as paragraphs in the story's box, a headline link over a blurb cut short:
    the blurbs and the heading over the pairs go with the links."""
    html = "<h3>Ähnliche Beiträge</h3>" + "".join(
        f'<p><a href="{u}">{t}</a></p><p>{x}</p>' for u, t, x in RELATED_POSTS
    )
    cleaned = clean_page(de_page(html), DE_URL)
    for url, title, blurb in RELATED_POSTS:
        assert title not in cleaned.body
        assert blurb not in cleaned.body
        assert url.rsplit("/", 1)[1] in " ".join(r.url for r in cleaned.related)
    assert "Ähnliche Beiträge" not in cleaned.body
    assert all(p in cleaned.body for p in DE_BODY)


def test_a_paragraph_after_a_lone_read_more_link_stays() -> None:
    """The paragraph after a "read more" link is the story's next one unless it is a blurb cut
    short; two bare links under a heading leave the heading (it may be the story's own)."""
    after = "Die Stadt rechnet damit, dass die Brücke in diesem Sommer deutlich mehr Radfahrer sieht."
    cut = "Wie es danach weitergeht, ist noch offen…"
    html = (
        f'<p><a href="{RELATED_POSTS[0][0]}">Lesen Sie auch: {RELATED_POSTS[0][1]}</a></p><p>{after}</p>'
        f'<p>{cut} Das sagte der Bürgermeister, der im Herbst mit <a href="/kontakt">den Anwohnern</a> spricht.</p>'
        "<h3>Mehr zum Thema</h3>" + "".join(f'<p><a href="{u}">{t}</a></p>' for u, t, _ in RELATED_POSTS)
    )
    blocks = find_teaser_blocks(lxml_html.document_fromstring(de_page(html)), DE_URL)
    assert [b.kind for b in blocks] == ["inline"] * 3
    assert not any(b.headed for b in blocks)
    cleaned = clean_page(de_page(html), DE_URL)
    assert after in cleaned.body
    assert RELATED_POSTS[0][1] not in cleaned.body


@pytest.mark.parametrize(
    "line",
    [
        "&laquo; Vorheriger Artikel: <a href='{a}'>{x}</a> | Nächster Artikel: <a href='{b}'>{y}</a> &raquo;",
        "<a href='{a}'>{x}</a> &larr; Previous story &middot; Next story &rarr; <a href='{b}'>{y}</a>",
        "Bài trước: <a href='{a}'>{x}</a><br>Bài sau: <a href='{b}'>{y}</a>",
    ],
)
def test_a_previous_and_next_story_line_is_a_teaser(line: str) -> None:
    """A line of links to the stories before and after, and words that only say which way."""
    (a, x, _), (b, y, _) = RELATED_POSTS
    html = "<p>" + line.format(a=a, x=x, b=b, y=y) + "</p>"
    blocks = find_teaser_blocks(lxml_html.document_fromstring(de_page(html)), DE_URL)
    assert [b.element.tag for b in blocks] == ["p"]
    assert [r.title for r in blocks[0].links] == [x, y]


def test_a_sentence_with_two_links_is_no_previous_and_next_line() -> None:
    (a, x, _), (b, y, _) = RELATED_POSTS
    html = f"<p>Next year the <a href='{a}'>{x}</a> and <a href='{b}'>{y}</a> share a budget.</p>"
    assert find_teaser_blocks(lxml_html.document_fromstring(de_page(html)), DE_URL) == []


def test_headlines_one_to_a_line_leave_with_their_dates_and_heading() -> None:
    """A list written with line breaks in one paragraph: a heading line, then a headline link and
    a date on each line (Portuguese)."""
    items = [
        ("/lokales/2026/04/feira-do-livro-abre-no-sabado.html", "Feira do livro abre no sábado", "12/04/2026"),
        ("/lokales/2026/04/nova-linha-de-onibus-ao-hospital.html", "Nova linha de ônibus ao hospital", "09/04/2026"),
        ("/lokales/2026/03/escola-ganha-telhado-novo.html", "Escola ganha telhado novo", "28/03/2026"),
    ]
    lines = "<br>".join(f'<a href="{u}">{t}</a> ({d})' for u, t, d in items)
    html = f"<p><b>Notícias relacionadas</b><br>{lines}</p>"
    blocks = find_teaser_blocks(lxml_html.document_fromstring(de_page(html)), DE_URL)
    assert [(b.element.tag, b.kind) for b in blocks] == [("p", "list")]
    assert [r.title for r in blocks[0].links] == [t for _, t, _ in items]
    cleaned = clean_page(de_page(html), DE_URL)
    assert "Notícias relacionadas" not in cleaned.body
    assert not any(d in cleaned.body for _, _, d in items)
    assert all(p in cleaned.body for p in DE_BODY)


def test_lines_of_prose_with_links_are_no_headline_list() -> None:
    """Lines of a poem or an address, each with a link in it, are not a list of headlines."""
    (a, x, _), (b, y, _) = RELATED_POSTS
    html = (
        f"<p>Am Ufer steht seit gestern, so schreibt man uns, das <a href='{a}'>{x}</a> wieder auf dem Plan<br>"
        f"und auch der Kreis verspricht im Rat: <a href='{b}'>{y}</a>, noch vor dem Winter</p>"
    )
    assert find_teaser_blocks(lxml_html.document_fromstring(de_page(html)), DE_URL) == []


def test_a_bold_link_inside_a_sentence_is_prose() -> None:
    """A linked phrase set in bold inside a sentence stays, with the sentence around it."""
    extra = (
        '<p>Năm ngoái, tỉnh đã <strong><a href="/thoi-su/ho-tro-giong-lua-chiu-han-2024-9981.html">'
        "hỗ trợ giống lúa chịu hạn</a></strong> cho ba huyện vùng cao.</p>"
    )
    cleaned = clean_page(page(extra_body=extra, rail=False), URL)
    assert "Năm ngoái, tỉnh đã hỗ trợ giống lúa chịu hạn cho ba huyện vùng cao." in cleaned.body


CARD_SENTENCE = "Phát biểu tại hội nghị, ông Lê Văn Bảy cho biết tỉnh sẽ mở thêm lớp tập huấn."


def clean_with_card(stories: list[tuple[str, str]]) -> CleanedPage:
    """The page with a person's pop-up card of `stories` (href, title) set inside a sentence."""
    card = "".join(f'<a class="card-story" href="{h}">{t}</a> ' for h, t in stories)
    extra = (
        '<p>Phát biểu tại hội nghị, ông <span class="person"><a href="/nhan-vat/le-van-bay">Lê Văn Bảy</a>'
        f'<span class="person-card"><span><a href="/nhan-vat/le-van-bay">Lê Văn Bảy</a>{card}</span></span></span>'
        " cho biết tỉnh sẽ mở thêm lớp tập huấn.</p>"
    )
    return clean_page(page(extra_body=extra, rail=False), URL)


def test_a_hover_card_inside_a_sentence_leaves_only_the_name() -> None:
    """A person's pop-up card of stories, set inside a sentence, is cut; the name and the sentence stay."""
    cleaned = clean_with_card([(h, t) for h, t, _ in TEASERS])
    assert CARD_SENTENCE in cleaned.body
    for _, title, _ in TEASERS:
        assert title not in cleaned.body
        assert title in [r.title for r in cleaned.related]


def test_a_card_that_lists_the_story_being_read_is_still_a_card() -> None:
    """A card whose first story is the page itself is cut whole; the page is not its own related link."""
    own = (URL, "Hội nghị tổng kết đề án hỗ trợ nông dân chuyển đổi giống cây trồng giai đoạn 2022–2025 của tỉnh")
    cleaned = clean_with_card([own, *[(h, t) for h, t, _ in TEASERS]])
    assert CARD_SENTENCE in cleaned.body
    assert URL not in [r.url for r in cleaned.related]
    assert len(cleaned.related) == len(TEASERS)


def test_bullet_points_with_links_in_their_sentences_stay() -> None:
    """A summary list whose sentences link to other articles is the story, not a teaser list."""
    bullets = [
        (
            "Nông dân được",
            "/thoi-su/ho-tro-giong-lua-chiu-han-2024-9981.html",
            "hỗ trợ giống lúa chịu hạn",
            "trong ba vụ liên tiếp.",
        ),
        (
            "Tỉnh sẽ",
            "/thoi-su/mo-lop-tap-huan-ky-thuat-2025-10002.html",
            "mở thêm lớp tập huấn",
            "tại các xã vùng cao.",
        ),
        (
            "Kinh phí lấy từ",
            "/kinh-te/ngan-sach-nong-nghiep-nam-2025-10010.html",
            "ngân sách nông nghiệp năm nay",
            "của tỉnh.",
        ),
    ]
    extra = "<ul>" + "".join(f'<li>{a} <a href="{h}">{t}</a> {b}</li>' for a, h, t, b in bullets) + "</ul>"
    cleaned = clean_page(page(extra_body=extra, rail=False), URL)
    for a, _, t, b in bullets:
        assert f"{a} {t} {b}" in cleaned.body


def test_headlines_linked_in_part_are_a_teaser_list() -> None:
    """Headlines whose link covers only their second half ("Khai trương chợ <a>phiên vùng cao</a>") are teasers."""
    split = [(h, t.split(" ", 3)) for h, t, _ in TEASERS]
    items = "".join(f'<li>{" ".join(w[:3])} <a href="{h}">{w[3]}</a></li>' for h, w in split)
    rail = f'<div class="more"><div class="heading">Đọc thêm</div><ul>{items}</ul></div>'
    cleaned = clean_page(page(extra_body=rail, rail=False), URL)
    related = [r.url for r in cleaned.related]
    for href, title, _ in TEASERS:
        assert title not in cleaned.body
        assert any(url.endswith(href) for url in related)


def test_a_teaser_list_with_date_labels_is_still_a_teaser_list() -> None:
    """A date or a label before each title does not hide a teaser list."""
    items = "".join(f'<li>20/03 <a href="{h}">{t}</a></li>' for h, t, _ in TEASERS)
    rail = f'<div class="tin-khac"><h3>Tin khác</h3><ul>{items}</ul></div>'
    cleaned = clean_page(page(extra_body=rail, rail=False), URL)
    for _, title, _ in TEASERS:
        assert title not in cleaned.body


def test_two_headline_links_are_not_yet_a_row() -> None:
    """Fewer than three bare headline links to another site stay: a row needs three."""
    row = '<p><a href="https://tinmang.example/2025/03/18/nong-dan-thu-hoach-ca-phe-som/">Nông dân thu hoạch cà phê sớm hai tuần</a></p>'
    cleaned = clean_page(page(extra_body=row * 2, rail=False), URL)
    assert "Nông dân thu hoạch cà phê sớm" in cleaned.body


def test_markup_leftovers_and_cut_copies_leave_the_body() -> None:
    """Bare timestamps and image addresses, and a cut copy of an earlier paragraph, are not body text."""
    extra = (
        "<div><span>2025-03-20T08:15:00+07:00</span></div><div><span>https://cdn.baotinhxa.vn/anh/hoi-nghi.jpg</span></div>"
        f"<p>{BODY[0][:60]}...</p>"
    )
    cleaned = clean_page(page(extra_body=extra), URL)
    assert "2025-03-20T08:15" not in cleaned.body and "hoi-nghi.jpg" not in cleaned.body
    assert cleaned.body.count(BODY[0][:60]) == 1
    assert {"markup", "repeat"} <= {b.reason for b in cleaned.blocks}


def test_newsroom_credit_lines_at_the_end_leave_the_body() -> None:
    """Wire-service credits and "follow our coverage" lines after the story are not body text."""
    extra = (
        "<p>(Reporting by Mai Anh; additional reporting by Quốc Huy; Editing by Thu Hà)</p>"
        "<p>Follow our full coverage of the drought at https://baotinhxa.vn/chu-de/han-han</p>"
    )
    cleaned = clean_page(page(extra_body=extra, rail=False), URL)
    assert "Reporting by" not in cleaned.body and "full coverage" not in cleaned.body
    assert all(p in cleaned.body for p in BODY)


def test_reading_time_and_the_reporters_contact_leave_the_body() -> None:
    """A reading time above the story, an address and a profile under it, are not body text."""
    html = page(extra_body="<p>mai.anh@baotinhxa.vn</p><p>twitter.com/maianh_btx</p>", rail=False)
    html = html.replace(b"<h1>", "<p>Thời gian đọc: 3 phút</p><h1>".encode())
    cleaned = clean_page(html, URL)
    assert "Thời gian đọc" not in cleaned.body
    assert "mai.anh@" not in cleaned.body and "twitter.com/maianh" not in cleaned.body
    assert all(p in cleaned.body for p in BODY)


def test_tag_lists_under_the_story_leave_the_body() -> None:
    """A "Từ khóa:" line, and a label with its list under it, are not body text; a sentence on topics stays."""
    topics = "<p>Topics raised at the meeting ranged from seed prices to irrigation, and all were answered.</p>"
    extra = f"{topics}<p>Từ khóa: nông dân, giống lúa, hạn hán</p><p>Tags</p><p>lúa chịu hạn, vùng cao, tập huấn</p>"
    cleaned = clean_page(page(extra_body=extra, rail=False), URL)
    assert "Từ khóa" not in cleaned.body and "Tags" not in cleaned.body and "lúa chịu hạn, vùng cao" not in cleaned.body
    assert "Topics raised at the meeting" in cleaned.body


def test_a_closing_sentence_that_cites_reporting_stays() -> None:
    """Words like "reporting by" inside a sentence of the story do not make it a credit line."""
    extra = "<p>The figures were confirmed after reporting by the provincial radio station in March.</p>"
    cleaned = clean_page(page(extra_body=extra, rail=False), URL)
    assert "reporting by the provincial radio station" in cleaned.body


DEK = "The works will close the north channel to boats over ten metres for six weeks."


def headed_page(standfirst_tag: str, description: str, standfirst: str = DEK) -> bytes:
    return f"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<title>Harbour dredging to start in spring | The Tidewater Ledger</title>
<meta name="description" content="{description}"></head>
<body><article><h1>Council approves harbour dredging plan after two-year delay</h1>
<{standfirst_tag}>{standfirst}</{standfirst_tag}>
<p>Dredging of the inner harbour will begin in March, the council decided on Tuesday by seven votes to two.</p>
<p>Fishing crews had asked for the work since silt grounded two trawlers at low tide in the winter of last year.</p>
<p>The contractor expects to lift about forty thousand cubic metres of sediment and take it to a licensed site.</p>
</article></body></html>""".encode()


def test_headline_and_standfirst_above_the_story_leave_the_body() -> None:
    """The h1 (worded unlike <title>) and a sub-heading repeating the description are not body text."""
    cleaned = clean_page(headed_page("h2", "The works will close the north channel to boats over ten metres"), URL)
    assert cleaned.body.startswith("Dredging of the inner harbour")
    reasons = {b.reason for b in cleaned.blocks if b.reason}
    assert {"headline", "standfirst"} <= reasons


@pytest.mark.parametrize(
    "sapo",
    [
        "TLG – The works will close the north channel to boats over ten metres for six weeks, the council said.",
        "The works will close the north channel to boats over ten metres for six weeks from March, while two "
        "dredgers lift the silt that grounded trawlers last winter; the harbour master will publish the closures "
        "a week ahead, and smaller boats may pass at high tide.",
    ],
)
def test_a_lede_set_as_a_heading_stays(sapo: str) -> None:
    """A sub-heading that opens with the paper's dateline, or runs a paragraph long, is the story's lede
    (the Vietnamese sapo), not a standfirst: it stays even when it repeats the description."""
    cleaned = clean_page(headed_page("h2", sapo[:80], standfirst=sapo), URL)
    assert cleaned.body.startswith(sapo[:60])


def test_a_lede_that_repeats_the_description_stays() -> None:
    """When the description is the story's own first paragraph, that paragraph is the story."""
    cleaned = clean_page(headed_page("p", "The works will close the north channel to boats over ten metres"), URL)
    assert cleaned.body.startswith("The works will close the north channel")


def test_prose_with_inline_links_is_not_a_teaser() -> None:
    """Body paragraphs that mention other articles through links stay in the body."""
    extra = "".join(
        f'<p>Trước đó, như <a href="{h}">báo đã đưa tin</a>, {x.rstrip(".")} và nhiều hộ dân đã được hỗ trợ kịp thời '
        f"theo kế hoạch của huyện trong suốt mùa khô năm nay.</p>"
        for h, _, x in TEASERS
    )
    cleaned = clean_page(page(extra_body=extra, rail=False), URL)
    assert cleaned.body.count("báo đã đưa tin") == 3


def test_title_suffix_rules() -> None:
    """A matching site name is split off either end; an unrelated dash stays."""
    assert _split_title("Story – Báo Tỉnh Xa", "Báo Tỉnh Xa") == "Story"
    assert _split_title("Báo Tỉnh Xa | Story", "Báo Tỉnh Xa") == "Story"
    assert _split_title("Growth slows - economists split on cause", "The Courier") == (
        "Growth slows - economists split on cause"
    )


def test_legacy_encoding_follows_the_meta_tag() -> None:
    """A windows-1258 page without a header charset decodes through its meta tag."""
    text = "Chính quyền thân thiện với người dân"
    raw = to_cp1258(f'<html><head><meta charset="windows-1258"></head><body><p>{text}</p></body></html>')
    assert decode_html(raw).count(text) == 1  # composed (NFC), as written


def to_cp1258(text: str) -> bytes:
    """Encode as Windows-1258 does: precomposed where the code page has it, else base + tone mark."""
    out = bytearray()
    for ch in text:
        try:
            out += ch.encode("cp1258")
        except UnicodeEncodeError:
            base, *marks = unicodedata.normalize("NFD", ch)
            head, tail = base, marks
            # Keep the vowel's own mark (â, ê, ơ...) composed when the code page has it.
            for i, mark in enumerate(marks):
                composed = unicodedata.normalize("NFC", base + mark)
                if len(composed) == 1 and composed.encode("cp1258", "ignore"):
                    head, tail = composed, marks[:i] + marks[i + 1 :]
                    break
            out += head.encode("cp1258") + "".join(tail).encode("cp1258")
    return bytes(out)


def test_a_page_without_text_is_dropped_not_failed() -> None:
    """No article text is an outcome (Dropped) with a reason, not an error."""
    try:
        clean_page(b"<html><body><nav><a href='/'>Home</a></nav></body></html>", URL)
    except Dropped as exc:
        assert exc.reason == "no_text"
    else:
        raise AssertionError("expected Dropped")


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=3000))
def test_cleaning_never_raises_anything_but_its_own_outcomes(raw: bytes) -> None:
    """Any bytes at all: a cleaned page, Dropped or PermanentError, never a crash."""
    with contextlib.suppress(Dropped, PermanentError):
        clean_page(raw, URL)


@pytest.mark.parametrize(
    ("href", "expected"),
    [
        (
            "/thoi-su/mua-lu-gay-sat-lo-2025-10111.html",
            "https://baotinhxa.vn/thoi-su/mua-lu-gay-sat-lo-2025-10111.html",
        ),
        (
            "https://www.baotinhxa.vn/xa-hoi/truong-hoc-moi-cho-tre-em/",
            "https://www.baotinhxa.vn/xa-hoi/truong-hoc-moi-cho-tre-em/",
        ),
        (
            "//baotinhxa.vn/kinh-te/gia-lua-tang-manh.html?utm_source=x#top",
            "https://baotinhxa.vn/kinh-te/gia-lua-tang-manh.html",
        ),
        (
            "sua-chua-tuyen-duong-lien-xa-10228.html",
            "https://baotinhxa.vn/thoi-su/sua-chua-tuyen-duong-lien-xa-10228.html",
        ),
        ("/thoi-su/", None),  # a section
        ("/tac-gia/nguyen-van-an-12345", None),  # an author page
        ("https://baokhac.example/thoi-su/mot-bai-viet-khac-2025.html", None),  # another site
        ("https://baotinhxa.vn", None),
        ("mailto:toasoan@baotinhxa.vn", None),
        (URL, URL),  # the page itself: rails list it too (`related` leaves it out)
    ],
)
def test_article_links_of_the_same_site(href: str, expected: str | None) -> None:
    """Which hrefs count as links to another article of the page's site, in canonical form."""
    assert article_url_of(href, URL, "baotinhxa.vn") == expected


def test_a_huge_path_segment_is_read_in_one_pass() -> None:
    """A 200 kB segment with one hyphen is no slug, and saying so takes one pass over it (a
    pattern that backtracked took three minutes; the suite's timeout stops a regression)."""
    segment = "a" * 200_000 + "-b"
    assert article_url_of(f"/{segment}", URL, "baotinhxa.vn") is None
    assert article_url_of(f"/{segment}-c", URL, "baotinhxa.vn") is not None


def test_a_short_post_under_its_own_linked_headline_is_the_article() -> None:
    """Blogs link a post's headline to the post itself: one such item is the story, not a teaser."""
    post = (
        f'<div class="post"><h2><a href="{URL}">Hội nghị tổng kết đề án hỗ trợ nông dân</a></h2>'
        f"<p>{BODY[0]}</p><p>{BODY[1]}</p></div>"
    )
    raw = f"<html><head><title>Blog</title></head><body><nav><a href='/'>Trang chủ</a></nav>{post}</body></html>"
    cleaned = clean_page(raw.encode(), URL)
    assert BODY[0] in cleaned.body and BODY[1] in cleaned.body
    assert cleaned.teaser_texts == []


def test_a_post_under_its_own_linked_headline_beside_a_link_to_the_next_post_is_the_article() -> None:
    """The story's box, headed by a link to the page itself, stays though a "next post" link sits beside it."""
    post = (
        f'<div id="content"><div class="post"><h2><a href="{URL}">Hội nghị tổng kết đề án hỗ trợ nông dân</a></h2>'
        f'<p class="meta">20/03/2025</p><div class="entry">{"".join(f"<p>{p}</p>" for p in BODY)}</div></div>'
        f'<div class="next"><a href="{TEASERS[1][0]}">{TEASERS[1][1]}</a></div></div>'
    )
    raw = f"<html><head><title>Blog</title></head><body><nav><a href='/'>Trang chủ</a></nav>{post}</body></html>"
    cleaned = clean_page(raw.encode(), URL)
    assert all(p in cleaned.body for p in BODY)


def test_the_box_that_holds_the_headline_is_the_story_not_a_teaser() -> None:
    """A header box with a "more from the region" link, a topic link, the headline and the lede keeps the lede."""
    lede = "Hơn bốn nghìn hộ nông dân đã chuyển sang trồng giống lúa chịu hạn sau ba năm thực hiện đề án của tỉnh."
    head = (
        f'<section class="head"><div class="region"><a href="{TEASERS[2][0]}">Xem thêm tin vùng cao</a></div>'
        '<div class="story-head"><p>Chủ đề: <a href="/nong-nghiep/giong-lua-chiu-han-2025-10002.html">Giống lúa '
        f"chịu hạn</a></p><h1>Hội nghị tổng kết đề án hỗ trợ nông dân</h1><p>{lede}</p></div></section>"
    )
    raw = f"<html><head><title>Tin</title></head><body>{head}<div>{''.join(f'<p>{p}</p>' for p in BODY)}</div></body></html>"
    cleaned = clean_page(raw.encode(), URL)
    assert lede in cleaned.body


def test_the_fast_paths_text_stays_when_the_full_cascade_drops_it() -> None:
    """When the full extraction settles on another part of the page, the text the fast one found comes first."""
    fast = f"{BODY[0]}\n{BODY[1]}"
    other = "Bình luận của bạn đọc\nHãy là người đầu tiên bình luận về bài viết này."
    assert _both_readings(fast, other) == f"{fast}\n{other}"
    wider = f"{BODY[0]}\n{BODY[1]}\n{BODY[2]}"
    assert _both_readings(fast, wider) == wider  # the cascade kept it: its reading alone


def _blocks(*rows: tuple[str, str | None]) -> list[Block]:
    return [Block(text, text[:8], reason) for text, reason in rows]


@pytest.mark.parametrize(
    "heading", ["Related", "See also:", "Weitere Artikel", "Tin liên quan", "Browse related stories"]
)
def test_a_related_heading_left_over_its_removed_box_goes(heading: str) -> None:
    """The classifier took the box of other stories; the heading over it leaves with it."""
    blocks = _blocks(
        (DE_BODY[0], None), (heading, None), ("Stadtfest findet wieder statt", "teaser"), (DE_BODY[1], None)
    )
    _mark_related_headings(blocks)
    assert [b.reason for b in blocks] == [None, "teaser", "teaser", None]


@pytest.mark.parametrize(
    "rows",
    [
        # kept text right under it: a heading of the story
        [("See also", None), (DE_BODY[1], None), ("Stadtfest findet wieder statt", "teaser")],
        # the related words come late: "recommended" in a heading of the story's own list
        [("12 cameras recommended", None), ("Stadtfest findet wieder statt", "boilerplate"), (DE_BODY[1], None)],
        # a block under it removed as a repeat, not by the classifier
        [("Related", None), (DE_BODY[0], "repeat"), (DE_BODY[1], None)],
        # a sentence, not a heading
        [("Related work is listed below.", None), ("Stadtfest findet wieder statt", "teaser")],
    ],
)
def test_a_heading_over_kept_text_or_not_a_related_one_stays(rows: list[tuple[str, str | None]]) -> None:
    blocks = _blocks((DE_BODY[0], None), *rows)
    before = [b.reason for b in blocks]
    _mark_related_headings(blocks)
    assert [b.reason for b in blocks] == before


def _article_page(lang: str, title: str, headline: str, paragraphs: list[str]) -> bytes:
    """A page of one story: its headline and paragraphs in an <article>, nothing around it."""
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return f"""<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8"><title>{title}</title></head>
<body><article><h1>{headline}</h1>{body}</article></body></html>""".encode()


CREDITS_URL = "https://kreisbote-nord.example/lokales/2026/02/faehre-nimmt-betrieb-wieder-auf.html"
CREDITS_STORY = [
    "Nach drei Monaten Pause fährt die Fähre zwischen Altwerder und Neuhafen ab Montag wieder nach dem alten Fahrplan.",
    "Die Reederei hat in der Werft die Schraube erneuert und das Deck neu abdichten lassen, teilte der Betriebsleiter mit.",
    "Pendler hatten in den vergangenen Wochen einen Umweg von fast vierzig Kilometern über die Brücke in Kauf genommen.",
    "Ein Streit um das Urheberrecht (Copyright) an den alten Fahrplänen, die ein Verein gesammelt hat, ist noch offen.",
]
CREDIT_LINES = [
    "Foto: Kreisbote/Jana Lehmann",
    "(Credit: Harbour Archive / R. Olsen)",
    "Crédits photos : AFP",
    "Die Fähre am Anleger in Altwerder. © Kreisbote",
    "© 2026 Kreisbote Nord",
]


@pytest.mark.parametrize("line", ["Bildquelle: Stadtarchiv Neuhafen", "Beitragsbild: Jana Lehmann", "Ảnh: Minh Anh"])
def test_the_credit_words_of_several_languages_are_known(line: str) -> None:
    assert _PICTURE_CREDIT.search(line)


def test_a_pictures_credit_printed_as_a_line_leaves_the_body() -> None:
    """Credit and copyright lines go wherever they stand, in any of their usual forms; a
    paragraph that speaks of copyright, or a long one with a © in it, stays."""
    long_with_sign = (
        "Der Verein zeigt die gesammelten Fahrpläne ab April im Rathaus; die Rechte an den Bildern (© Stadtarchiv) "
        "liegen beim Archiv, das die Ausstellung zusammen mit der Reederei und zwei Schulen vorbereitet hat."
    )
    paragraphs = [CREDITS_STORY[0], CREDIT_LINES[0], CREDITS_STORY[1], CREDIT_LINES[1], CREDIT_LINES[2]]
    paragraphs += [CREDITS_STORY[2], CREDIT_LINES[3], CREDITS_STORY[3], long_with_sign, CREDIT_LINES[4]]
    markup = _article_page("de", "Fähre fährt wieder", "Fähre nimmt den Betrieb wieder auf", paragraphs)
    cleaned = clean_page(markup, CREDITS_URL)
    for line in CREDIT_LINES:
        assert line not in cleaned.body
    for line in [*CREDITS_STORY, long_with_sign]:
        assert line in cleaned.body
    assert cleaned.removed_counts().get("credit") == len(CREDIT_LINES)


NOTES_URL = "https://diario-del-valle.example/region/2026/03/reabren-el-puente-de-san-telmo.html"
NOTES_STORY = [
    "El puente de San Telmo volvió a abrirse al tráfico este lunes, después de cuatro meses de obras en sus pilares.",
    "Los técnicos del ayuntamiento reforzaron los apoyos con hormigón y cambiaron las barandillas de todo el tramo norte.",
    "Los vecinos que quieran recibir avisos de cortes pueden suscribirse a la lista municipal, explicó la concejala.",
    "Related to the repairs, the council also repainted the footbridge that crosses the canal beside the old market.",
    "Durante las obras, los autobuses de la línea 4 dieron un rodeo de casi veinte minutos por la carretera del río.",
]
NOTES_LINES = [
    ("Lea también: Cortes de agua en el barrio alto hasta el viernes", "teaser"),
    ("Sign up for our morning newsletter and get the region's news first.", "prompt"),
    ("Read more: The market hall reopens after its roof repairs", "teaser"),
    ("Publicidad", "prompt"),
    ("This post contains affiliate links: we may earn a small commission if you buy through them.", "prompt"),
    ("12 comentarios", "prompt"),
]


def test_what_the_site_tells_its_reader_inside_the_story_leaves_the_body() -> None:
    """A "read also" line, an advert's label, a call to sign up, an affiliate disclosure and a
    count of comments go wherever they stand; sentences that merely use those words stay."""
    paragraphs = [
        NOTES_STORY[0], NOTES_LINES[0][0], NOTES_STORY[1], NOTES_LINES[1][0], NOTES_STORY[2],
        NOTES_LINES[2][0], NOTES_STORY[3], NOTES_LINES[3][0], NOTES_STORY[4], NOTES_LINES[4][0],
        NOTES_LINES[5][0],
    ]  # fmt: skip
    markup = _article_page("es", "Reabren el puente", "Reabren el puente de San Telmo", paragraphs)
    cleaned = clean_page(markup, NOTES_URL)
    for line in NOTES_STORY:
        assert line in cleaned.body
    reasons = {b.text: b.reason for b in cleaned.blocks}
    for line, reason in NOTES_LINES:
        assert line not in cleaned.body
        assert reasons[line] == reason


@pytest.mark.parametrize(
    ("text", "read_whole", "reason"),
    [
        ("Reaction score", True, "chrome"),
        ("Posts: 1,077", True, "chrome"),
        ("10+ Year Member", True, "chrome"),
        ("Loading...", False, "chrome"),
        ("Out of stock", True, "chrome"),
        # a forum's labels on an article are left to the classifier: "Location" may head a section
        ("Location", False, None),
        ("Zum Weiterlesen", False, "teaser"),
        ("Có thể bạn quan tâm", False, "teaser"),
        ("You must be logged in to post a comment.", False, "prompt"),
        ("Get the latest headlines: download our app for iOS and Android.", False, "prompt"),
        ("Empfohlener redaktioneller Inhalt", False, "prompt"),
        ("The Courier is not responsible for the content of external internet sites.", False, "prompt"),
        ("Für den Inhalt externer Seiten übernimmt das Tagesblatt keine Haftung.", False, "prompt"),
        ("Le Courrier n'est pas responsable du contenu des sites externes.", False, "prompt"),
        ("Báo không chịu trách nhiệm về nội dung các trang bên ngoài.", False, "prompt"),
        ("The council said it is not responsible for the state of private roads.", False, None),
        ("Aktualisiert am 03.02.2026, 14:05 Uhr", False, "byline"),
        ("Written by Jane Roe", False, "byline"),
        ("kmh/dpa", False, "byline"),
        ("Updated guidance from 12/03/2026 asks schools to close an hour early.", False, None),
        ("Zum Weiterlesen empfiehlt die Autorin drei Bücher über den Fluss.", False, None),
        ("Related coverage of the flood continues on page four of the print edition.", False, None),
        # a page read whole keeps its calls: on a shop or a service page they are its content
        ("Sign up for our newsletter.", True, None),
        ("Posts from the members of the club are welcome until Friday.", True, None),
        ("Weitere Infos: Die Stadt plant eine zweite Brücke", False, None),
        ("Related to the above: the river rose by two metres overnight.", False, None),
        ("It is very important to sign up for the automatic contributions.", False, None),
    ],
)
def test_the_software_and_reader_notes_are_told_from_text(text: str, read_whole: bool, reason: str | None) -> None:
    assert _reader_note(text, read_whole) == reason


# A documentation hub of our own (Spanish): its story is a short introduction and the list of
# the guide's chapters, each a link and a line on what the chapter holds.
HUB_URL = "https://huerto.example/guia/plagas/"
HUB_INTRO = (
    "Las plagas del huerto se combaten mejor cuando se conocen: cada una deja señales propias en "
    "las hojas, los tallos o los frutos. Esta parte de la guía reúne lo que hay que saber de cada una.",
    "Empiece por el capítulo que describe lo que ve en sus plantas; los demás pueden leerse en cualquier orden.",
)
HUB_CHAPTERS = (
    (
        "/guia/plagas/pulgones-y-hormigas.html",
        "Pulgones y hormigas",
        "cómo se ayudan y por qué hay que cortar su alianza en primavera",
    ),
    (
        "/guia/plagas/caracoles-y-babosas.html",
        "Caracoles y babosas",
        "barreras de ceniza, trampas de cerveza y el riego por la mañana",
    ),
    (
        "/guia/plagas/la-mosca-blanca.html",
        "La mosca blanca",
        "dónde se esconde en el invernadero y qué plantas la alejan",
    ),
    (
        "/guia/plagas/la-oruga-del-tomate.html",
        "La oruga del tomate",
        "las señales en las hojas y la recogida a mano al atardecer",
    ),
)


def hub_page(heading: str = "", where: str = "article", linked_lines: bool = False) -> bytes:
    items = "".join(
        f'<li><a href="{href}">{title}</a> – {"<a href=" + repr(href) + ">" + line + "</a>" if linked_lines else line}</li>'
        for href, title, line in HUB_CHAPTERS
    )
    chapters = f"<h2>{heading}</h2><ul>{items}</ul>" if heading else f"<ul>{items}</ul>"
    if where == "aside":
        chapters = f"<aside>{chapters}</aside>"
    intro = "".join(f"<p>{p}</p>" for p in HUB_INTRO)
    return f"""<!DOCTYPE html><html lang="es"><head><meta charset="utf-8"><title>Plagas del huerto – Guía</title></head>
<body><nav><a href="/">Inicio</a> <a href="/guia/">Guía</a></nav><main><article><h1>Plagas del huerto</h1>
<div class="contenido">{intro}{chapters}</div></article></main>
<footer>Huerto en casa, guía libre</footer></body></html>""".encode()


def test_the_chapter_list_of_a_documentation_hub_is_no_teaser_list() -> None:
    """The teaser search takes a list of linked titles with a line each for a related box; a
    list inside the page's `<article>`, mostly not link text and under no related heading, is
    the story's own (a hub's chapters) and stays for the classifier to weigh."""
    lines = [line for _, _, line in HUB_CHAPTERS]
    # The structure alone reads it as teasers: the rule, not the search, keeps it.
    found = find_teaser_blocks(lxml_html.document_fromstring(hub_page()), HUB_URL)
    assert any(lines[0] in b.text for b in found)
    cleaned = clean_page(hub_page(), HUB_URL)
    assert not any(lines[0] in t for t in cleaned.teaser_texts)
    for line in lines:
        assert line in cleaned.body, line
    assert not cleaned.related
    # Under a related box's heading, in an aside, or all links: still a teaser list.
    for variant in (
        hub_page(heading="Noticias relacionadas"),
        hub_page(where="aside"),
        hub_page(linked_lines=True),
    ):
        other = clean_page(variant, HUB_URL)
        assert any(lines[0] in t for t in other.teaser_texts)
        assert {link.url for link in other.related} >= {f"https://huerto.example{h}" for h, _, _ in HUB_CHAPTERS}


def test_the_training_scripts_read_a_hub_as_the_teaser_search_cuts_it() -> None:
    """Training reads pages with every list the teaser search finds cut (`story_lists=False`),
    the story's own too; cleaning keeps the story's own list for the classifier."""
    lines = [line for _, _, line in HUB_CHAPTERS]
    as_cleaned = read_page(hub_page(), HUB_URL)
    as_trained = read_page(hub_page(), HUB_URL, story_lists=False)
    assert not any(lines[0] in t.text for t in as_cleaned.teasers)
    assert any(lines[0] in b.text for b in as_cleaned.blocks)
    assert any(lines[0] in t.text for t in as_trained.teasers)
    assert not any(lines[0] in b.text for b in as_trained.blocks)
