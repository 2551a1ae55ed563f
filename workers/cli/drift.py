"""`newsflow drift [list] [--json]` and `newsflow drift accept SITE|--all`: the drift alarm by site."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

from workers.cli.common import fail, open_runtime

if TYPE_CHECKING:
    from pipeline.settings import Settings


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    dr = sub.add_parser("drift", help="each site's drift windows and standing alarm; accept a redesign")
    dr.add_argument("--json", action="store_true", help="the sites as one JSON object")
    dr.set_defaults(func=cmd_list)
    dsub = dr.add_subparsers(metavar="ACTION")
    dl = dsub.add_parser("list", help="each watched site: baseline, recent window, standing alarm (the default)")
    # SUPPRESS: `drift --json list` keeps the group's --json instead of this parser's default.
    dl.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="the sites as one JSON object")
    dl.set_defaults(func=cmd_list)
    da = dsub.add_parser(
        "accept", help="take a site's current extraction as normal: clear its alarm, start its baseline again"
    )
    which = da.add_mutually_exclusive_group(required=True)
    which.add_argument("site", nargs="?", metavar="SITE", help="the site, as `newsflow drift list` names it")
    which.add_argument("--all", action="store_true", help="every watched site")
    da.set_defaults(func=cmd_accept)


def cmd_list(settings: Settings, args: argparse.Namespace) -> int:
    from pipeline.drift import DriftLimits, site_states

    limits = DriftLimits.from_settings(settings)
    with open_runtime(settings) as rt:
        sites = site_states(rt.state.drift, limits)
    if args.json:
        print(json.dumps(sites, indent=2, ensure_ascii=False))
    else:
        from workers.cli.display import show_drift

        show_drift(sites, limits)
    return 0


def cmd_accept(settings: Settings, args: argparse.Namespace) -> int:
    from pipeline import drift

    with open_runtime(settings) as rt:
        sites = rt.state.drift.sites() if args.all else [args.site]
        accepted = {site: drift.accept(rt.state, site) for site in sites}
    if not sites:
        print("no site is watched yet: nothing to accept")
    for site, done in accepted.items():
        if done:
            print(
                f"accepted {site}: its alarm is cleared and its next {settings.drift_baseline_pages} fresh pages"
                " form a new baseline"
            )
        else:
            fail(f"nothing is kept for site {site!r}; `newsflow drift list` names the watched sites")
    return 0 if all(accepted.values()) else 1
