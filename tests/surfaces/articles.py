"""Articles the API and browser tests search: three sites, three languages, a week of days,
and one story republished by a second site (a near-duplicate cluster of three copies)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pipeline.models import Article, article_id
from pipeline.search.base import fold_text

DAY0 = datetime(2025, 3, 10, 7, 30, tzinfo=UTC)

# One story per paragraph: "site | language | day after DAY0 | cluster (or -) | title", then its body.
_STORIES = """
baosongda.vn | vi | 0 | flood | Lũ sông Đà dâng cao, ba xã phải sơ tán
Mưa lớn kéo dài khiến mực nước sông Đà dâng cao. Chính quyền ba xã ven sông đã sơ tán hơn hai trăm
hộ dân lên vùng cao an toàn trong đêm.

tinmiennui.vn | vi | 0 | flood | Lũ sông Đà: ba xã sơ tán hơn hai trăm hộ dân
Mưa lớn kéo dài khiến mực nước sông Đà dâng cao. Chính quyền ba xã ven sông đã sơ tán hơn hai trăm
hộ dân lên vùng cao an toàn trong đêm qua.

tinmiennui.vn | vi | 1 | flood | Lũ sông Đà bắt đầu rút, người dân trở về nhà
Sau hai ngày, nước lũ sông Đà đã rút dần. Người dân các xã ven sông trở về dọn dẹp nhà cửa.

baosongda.vn | vi | 2 | - | Xã Tân Lập ra mắt mô hình chính quyền thân thiện
Mô hình chính quyền thân thiện giúp người dân làm thủ tục nhanh hơn, không phải chờ đợi lâu.

riverdaily.example | en | 1 | - | River flood: villages evacuated overnight
Heavy rain pushed the river over its banks. Three villages were evacuated overnight and the valley
road stayed closed while the flood water rose.

riverdaily.example | en | 3 | - | Council promises funding for new flood defences
After last week's flood the council promised money for higher banks and a new pumping station.

riverdaily.example | en | 5 | - | Saturday market reopens on the square
Stallholders returned to the square on Saturday as the weekly market reopened after repairs.

echodesvallees.example | fr | 2 | - | Crue de la rivière : deux communes en alerte
La crue de la rivière a inondé les prés. Deux communes restent en alerte et les routes du fond de
vallée sont fermées.

echodesvallees.example | fr | 6 | - | La fête du pain attire les familles
Le four communal a été rallumé pour la fête du pain, qui a attiré des familles de toute la vallée.
"""


def sample_articles() -> list[Article]:
    """The fixture articles; cluster members share the first member's id as `cluster_id`."""
    out: list[Article] = []
    first_of: dict[str, str] = {}
    for block in _STORIES.strip().split("\n\n"):
        head, *lines = block.splitlines()
        site, language, day, cluster, title = (part.strip() for part in head.split("|"))
        slug = "-".join(fold_text(title).replace(":", " ").replace(",", " ").split())
        url = f"https://{site}/{slug}.html"
        doc_id = article_id(url)
        cluster_id = first_of.setdefault(cluster, doc_id) if cluster != "-" else doc_id
        out.append(
            Article(
                id=doc_id,
                url=url,
                canonical_url=url,
                site=site,
                title=title,
                body=" ".join(lines),
                language=language,
                published_at=DAY0 + timedelta(days=int(day), hours=len(out)),
                cluster_id=cluster_id,
                duplicate_of=None if cluster_id == doc_id else cluster_id,
            )
        )
    return out
