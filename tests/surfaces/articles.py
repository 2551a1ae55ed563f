"""Articles the API and browser tests search: six sites, four languages, ten days, and stories
republished by other sites (near-duplicate clusters: one of three copies, one of two)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pipeline.models import Article, article_id
from pipeline.search.folding import fold_text

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

riverdaily.example | en | 0 | - | Flood warning issued for the lower valley
Forecasters issued a flood warning for the lower valley after two days of rain upstream. Farmers
were told to move livestock to higher fields before the river peaks on Tuesday night.

riverdaily.example | en | 2 | square | Flood water reaches the old town square
Flood water crept into the old town square on Wednesday morning. Shop owners carried stock upstairs
while firefighters pumped out the cellars of the library and the post office.

valleytimes.example | en | 2 | square | Flood water reaches the old town square
Flood water crept into the old town square on Wednesday morning. Shop owners carried stock upstairs
while firefighters pumped out the cellars of the library and the post office, the council said.

valleytimes.example | en | 4 | - | Volunteers fill sandbags as the flood crest nears
Hundreds of volunteers filled sandbags at the sports ground as the flood crest moved towards the
bridge. The army sent two lorries to carry them to the streets nearest the river.

valleytimes.example | en | 7 | - | Clean-up begins as the flood recedes
Residents began shovelling mud out of their homes as the flood receded. The council opened a
centre where families can borrow dehumidifiers and ask for help with insurance claims.

riverdaily.example | en | 9 | - | Insurers count the cost of the March flood
Insurers have received more than a thousand claims since the flood. Most are for ground floors
and cars; the average claim is higher than after the last flood eight years ago.

valleytimes.example | en | 1 | - | Flood closes the valley road and the railway line
The valley road and the railway line were closed at noon as the flood spread across the meadows.
Buses will replace trains between the two towns until the track has been checked.

riverdaily.example | en | 2 | - | Schools shut for two days as flood water rises
Four primary schools will stay shut on Thursday and Friday. Parents were asked to keep children
away from the river path, which is under water in several places.

valleytimes.example | en | 3 | - | Flood defences hold at the mill weir
The new flood defences at the mill weir held overnight. Engineers said the wall had kept the
water out of some two hundred homes that flooded the last time the river rose this high.

echodesvallees.example | fr | 1 | - | Inondations : la préfecture déclenche le plan d'urgence
La préfecture a déclenché le plan d'urgence après les fortes pluies. Les écoles de trois communes
resteront fermées jusqu'à nouvel ordre.

echodesvallees.example | fr | 4 | - | Après la crue, les agriculteurs évaluent les dégâts
Les agriculteurs de la plaine comptent les parcelles inondées. Les semis de printemps devront être
refaits dans la plupart des champs.

diariodelrio.example | es | 3 | - | Las inundaciones obligan a cerrar tres escuelas
El ayuntamiento cerró tres escuelas por las inundaciones. Las clases se darán en el polideportivo
hasta que baje el agua.

diariodelrio.example | es | 5 | - | El caudal del río baja y los vecinos vuelven a casa
El caudal del río bajó durante la noche y los vecinos evacuados empezaron a volver a sus casas.

diariodelrio.example | es | 8 | - | Mercado de artesanía reúne a cien expositores
Cien artesanos de la comarca expusieron sus tejidos y cerámicas en la plaza mayor durante el fin
de semana.

baosongda.vn | vi | 5 | - | Hỗ trợ người dân vùng lũ khôi phục sản xuất
Tỉnh hỗ trợ giống cây trồng và vật nuôi cho các hộ dân bị thiệt hại sau đợt lũ vừa qua.
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
