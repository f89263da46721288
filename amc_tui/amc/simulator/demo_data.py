"""The demo data set: believable AMC instances, their saved workflows, the demo queries.

Twenty-four instances of the demo account (brands and agency clients in the NA, EU and
FE regions, three of them SANDBOX) and two of another account, which the demo
credentials may not use (403).  Saved workflows take their SQL from the demo queries
in ``amc_tui/amc/demo_queries/*.sql``, read with :mod:`importlib.resources`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

from amc_tui.amc.simulator.config import DEMO_ADVERTISER_ID, OTHER_ADVERTISER_ID, SimInstance


@dataclass(frozen=True)
class DemoQuery:
    """One demo SQL file: its ``-- name:`` and ``-- description:`` header and its text."""

    name: str
    description: str
    sql: str
    stem: str

    @property
    def workflow_id(self) -> str:
        """The saved-workflow id this query has on the demo instances."""
        return self.stem.replace("_", "-")


def _header_value(lines: list[str], key: str, default: str) -> str:
    prefix = f"-- {key}:"
    for line in lines:
        if line.strip().lower().startswith(prefix):
            return line.strip()[len(prefix) :].strip()
    return default


@cache
def _load() -> tuple[DemoQuery, ...]:
    folder = resources.files("amc_tui.amc").joinpath("demo_queries")
    found: list[DemoQuery] = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".sql"):
            continue
        sql = entry.read_text(encoding="utf-8")
        header = [line for line in sql.splitlines() if line.startswith("--")]
        stem = entry.name.removesuffix(".sql")
        found.append(
            DemoQuery(
                name=_header_value(header, "name", stem),
                description=_header_value(header, "description", ""),
                sql=sql,
                stem=stem,
            )
        )
    return tuple(found)


def load_demo_queries() -> list[DemoQuery]:
    """The demo queries, sorted by file name."""
    return list(_load())


# (instanceId, name, type, customer, marketplace, region, created, workflow stems)
# fmt: off
_ALL = ("reach_frequency", "path_to_conversion", "new_to_brand", "campaign_overlap")
_CORE = ("reach_frequency", "new_to_brand")
_DEMO: tuple[tuple[str, str, str, str, str, str, str, tuple[str, ...]], ...] = (
    ("amc359b33843", "Acme Outdoor US", "STANDARD", "acmeoutdoor", "ATVPDKIKX0DER", "NA",
     "2022-03-14T16:02:11Z", _ALL),
    ("amccdda2e95b", "Acme Outdoor CA", "STANDARD", "acmeoutdoor", "A2EUQ1WTGCTBG2", "NA",
     "2022-05-02T09:41:57Z", _ALL),
    ("amcd4273d31a", "Acme Outdoor UK", "STANDARD", "acmeoutdoor", "A1F83G8C2ARO7P", "EU",
     "2022-06-21T11:15:03Z", _ALL),
    ("amcfaaa71bc1", "Acme Outdoor DE", "STANDARD", "acmeoutdoor", "A1PA6795UKMFR9", "EU",
     "2022-06-21T11:18:44Z", _CORE),
    ("amcb73cafc71", "Nordlicht Home DE", "STANDARD", "nordlichthome", "A1PA6795UKMFR9", "EU",
     "2021-11-08T08:30:00Z", _ALL),
    ("amc15b9ad481", "Nordlicht Home FR", "STANDARD", "nordlichthome", "A13V1IB3VIYZZH", "EU",
     "2022-01-17T13:05:29Z", _CORE),
    ("amcc4af13de8", "Nordlicht Home IT", "STANDARD", "nordlichthome", "APJ6JRA9NG5V4", "EU",
     "2023-02-27T10:44:10Z", _CORE),
    ("amc8b491eb38", "Sakura Beauty JP", "STANDARD", "sakurabeauty", "A1VC38T7YXB528", "FE",
     "2022-09-05T02:12:48Z", _ALL),
    ("amcf60f0234b", "Sakura Beauty AU", "STANDARD", "sakurabeauty", "A39IBJ37TRP1C6", "FE",
     "2023-04-11T23:59:01Z", _CORE),
    ("amcbcc1db4dd", "Bluefin Pet Supplies US", "STANDARD", "bluefinpet", "ATVPDKIKX0DER", "NA",
     "2021-07-30T18:20:36Z", _ALL),
    ("amc609478284", "Bluefin Pet Supplies MX", "STANDARD", "bluefinpet", "A1AM78C64UM0Y8", "NA",
     "2023-08-14T15:33:22Z", _CORE),
    ("amcf08b67faf", "Maison Lumière FR", "STANDARD", "maisonlumiere", "A13V1IB3VIYZZH", "EU",
     "2022-10-03T07:48:15Z", _ALL),
    ("amcdd78a0da0", "Maison Lumière ES", "STANDARD", "maisonlumiere", "A1RKKUPIHCS9HS", "EU",
     "2023-03-19T12:00:47Z", _CORE),
    ("amc44f61b4c5", "Copper Kettle Coffee US", "STANDARD", "copperkettle", "ATVPDKIKX0DER",
     "NA", "2022-02-09T20:14:52Z", _ALL),
    ("amcf6270ff05", "Copper Kettle Coffee UK", "STANDARD", "copperkettle", "A1F83G8C2ARO7P",
     "EU", "2023-06-06T09:09:09Z", _CORE),
    ("amc9623067aa", "Vela Fitness US", "STANDARD", "velafitness", "ATVPDKIKX0DER", "NA",
     "2022-12-12T17:45:30Z", _ALL),
    ("amc00a91a13e", "Vela Fitness DE", "STANDARD", "velafitness", "A1PA6795UKMFR9", "EU",
     "2023-09-25T08:27:03Z", _CORE),
    ("amcc112ee7cb", "Kiwi & Co Kids AU", "STANDARD", "kiwiandco", "A39IBJ37TRP1C6", "FE",
     "2022-08-18T22:31:40Z", _ALL),
    ("amca14dc11f8", "Kiwi & Co Kids JP", "STANDARD", "kiwiandco", "A1VC38T7YXB528", "FE",
     "2023-11-02T01:06:55Z", _CORE),
    ("amce9f8552e0", "Helix Audio US", "STANDARD", "helixaudio", "ATVPDKIKX0DER", "NA",
     "2021-12-01T15:00:00Z", _ALL),
    ("amcbf59cff8e", "Helix Audio NL", "STANDARD", "helixaudio", "A1805IZSGTT6HS", "EU",
     "2024-01-22T10:10:10Z", _CORE),
    ("amc9fcedd3cc", "Acme Outdoor Sandbox", "SANDBOX", "acmeoutdoor", "ATVPDKIKX0DER", "NA",
     "2022-03-14T16:05:40Z", ("reach_frequency",)),
    ("amcc8787e03c", "Nordlicht Home Sandbox", "SANDBOX", "nordlichthome", "A1PA6795UKMFR9",
     "EU", "2021-11-08T08:35:12Z", ("reach_frequency",)),
    ("amc49601e679", "Sakura Beauty Sandbox", "SANDBOX", "sakurabeauty", "A1VC38T7YXB528", "FE",
     "2022-09-05T02:20:02Z", ("reach_frequency",)),
)
_OTHER: tuple[tuple[str, str, str, str, str, str, str, tuple[str, ...]], ...] = (
    ("amc67e292468", "Rival Brands US", "STANDARD", "rivalbrands", "ATVPDKIKX0DER", "NA",
     "2022-04-04T04:04:04Z", _CORE),
    ("amcf8699c92d", "Rival Brands UK", "STANDARD", "rivalbrands", "A1F83G8C2ARO7P", "EU",
     "2022-04-05T05:05:05Z", _CORE),
)
# fmt: on
_AWS_REGIONS = {"NA": "us-east-1", "EU": "eu-west-1", "FE": "us-west-2"}


def _instance(
    row: tuple[str, str, str, str, str, str, str, tuple[str, ...]], advertiser_id: str
) -> SimInstance:
    instance_id, name, kind, customer, marketplace, region, created, stems = row
    sql_by_stem = {q.stem: q.sql for q in _load()}
    workflows = {stem.replace("_", "-"): sql_by_stem[stem] for stem in stems if stem in sql_by_stem}
    aws_region = _AWS_REGIONS[region]
    return SimInstance.model_validate(
        {
            "instance_id": instance_id,
            "instance_name": name,
            "instance_type": kind,
            "customer_canonical_name": customer,
            "creation_datetime": created,
            "api_endpoint": f"https://{instance_id[3:]}x7.execute-api.{aws_region}"
            ".amazonaws.com/prod",
            "region": region,
            "marketplace_id": marketplace,
            "advertiser_id": advertiser_id,
            "workflows": workflows,
        }
    )


def demo_instances() -> list[SimInstance]:
    """The demo account's instances, then the two of the other account."""
    return [_instance(row, DEMO_ADVERTISER_ID) for row in _DEMO] + [
        _instance(row, OTHER_ADVERTISER_ID) for row in _OTHER
    ]
