"""Result files as fixed objects: their CSV content, exact size, ETag and bytes by range.

Result file ``n`` of an execution is the CSV header followed by a *block* of the first
``min(result_rows, BLOCK_ROWS)`` rows, repeated until there are ``result_rows`` rows
(the last repetition cut at a row boundary).  The block is rendered once, with the
byte offset of every row in it, so a file's size and the bytes of any range are
arithmetic on the block: no file is ever generated whole.  Rendered blocks are kept
in a small LRU per simulator (:class:`ResultCache`), which also counts the GETs of each
file (for the cut-off fault).  Rows are deterministic from the seed, the execution id
and the file number; an empty result (a zone-suffixed window) is the header alone.
"""

from __future__ import annotations

import csv
import hashlib
import random
from collections import Counter, OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import accumulate
from weakref import WeakKeyDictionary

from amc_tui.amc.simulator.records import ExecutionRecord
from amc_tui.amc.simulator.state import SimulatorState

BLOCK_ROWS = 5_000
"""Rows rendered per (execution, file); a longer file repeats them (about 0.5 MB)."""
BLOCK_CACHE_SIZE = 8
"""Rendered blocks a simulator keeps (least recently used ones go first)."""
PIECE_BYTES = 64 * 1024
"""Largest piece of body handed to the server at once."""
CSV_CONTENT_TYPE = "text/csv; charset=utf-8"

COLUMNS = (
    ("campaign", "STRING"),
    ("campaign_id", "STRING"),
    ("ad_product_type", "STRING"),
    ("impressions", "LONG"),
    ("reach", "LONG"),
    ("avg_frequency", "DOUBLE"),
    ("clicks", "LONG"),
    ("purchases", "LONG"),
    ("new_to_brand_purchases", "LONG"),
    ("total_product_sales", "DOUBLE"),
)
CAMPAIGNS = (
    'Spring Sale, "Outdoor Gear" – Größe M',  # noqa: RUF001 - non-ASCII on purpose
    "春の新生活キャンペーン",
    "Always-on | Brand Defense",
    "Retargeting – Warenkorbabbrecher",  # noqa: RUF001 - non-ASCII on purpose
    "Prime Day 2024",
    "Holiday Gifts, Stocking Stuffers",
    "Café Crème Launch",
    "Back to School",
)
MULTILINE_CAMPAIGNS = (
    "Line one\nline two",
    'Gift Guide:\n"Top 10", under $25',
)
"""Names with an embedded newline (quoted in the CSV), used every
:data:`MULTILINE_EVERY` rows from row :data:`MULTILINE_FIRST` (0-based) on: a file of
the default 25 rows has none, so a line count of it still counts rows."""
MULTILINE_FIRST = 41
MULTILINE_EVERY = 50
AD_PRODUCTS = ("DSP", "SPONSORED_PRODUCTS", "SPONSORED_BRANDS", "SPONSORED_DISPLAY")


class _Lines:
    """A file-like sink for ``csv.writer``: keeps what was written since the last take."""

    def __init__(self) -> None:
        self._parts: list[str] = []

    def write(self, text: str) -> None:
        self._parts.append(text)

    def take(self) -> bytes:
        line = "".join(self._parts).encode("utf-8")
        self._parts.clear()
        return line


def _campaign(index: int) -> str:
    if index % MULTILINE_EVERY == MULTILINE_FIRST:
        return MULTILINE_CAMPAIGNS[(index // MULTILINE_EVERY) % len(MULTILINE_CAMPAIGNS)]
    name = CAMPAIGNS[index % len(CAMPAIGNS)]
    return name if index < len(CAMPAIGNS) else f"{name} #{index // len(CAMPAIGNS) + 1}"


def _rows(seed: int, execution_id: str, file_number: int, count: int) -> Iterator[list[str]]:
    """The first ``count`` rows of one result file."""
    rng = random.Random(f"{seed}|result|{execution_id}|{file_number}")  # noqa: S311 - fake data
    for index in range(count):
        reach = rng.randint(2_000, 900_000)
        frequency = rng.uniform(1.2, 6.5)
        impressions = round(reach * frequency)
        clicks = round(impressions * rng.uniform(0.001, 0.02))
        purchases = round(clicks * rng.uniform(0.02, 0.15))
        new_to_brand = round(purchases * rng.uniform(0.2, 0.8))
        yield [
            _campaign(index),
            f"{rng.getrandbits(40):d}",
            rng.choice(AD_PRODUCTS),
            str(impressions),
            str(reach),
            f"{impressions / reach:.2f}",
            str(clicks),
            str(purchases),
            str(new_to_brand),
            f"{purchases * rng.uniform(8, 120):.2f}",
        ]


def _render_header() -> bytes:
    lines = _Lines()
    csv.writer(lines).writerow(name for name, _ in COLUMNS)
    return lines.take()


HEADER = _render_header()
"""The CSV header line, as sent."""


@dataclass(frozen=True)
class RenderedBlock:
    """The first rows of one result file, as CSV bytes, with where each row starts."""

    data: bytes
    offsets: tuple[int, ...]
    """``offsets[i]``: where row ``i`` starts in :attr:`data`; the last is ``len(data)``."""
    digest: str

    @property
    def rows(self) -> int:
        return len(self.offsets) - 1


def render_block(seed: int, execution_id: str, file_number: int, rows: int) -> RenderedBlock:
    """Render ``rows`` rows (the whole block) of one result file."""
    lines = _Lines()
    writer = csv.writer(lines)
    encoded: list[bytes] = []
    for row in _rows(seed, execution_id, file_number, rows):
        writer.writerow(row)
        encoded.append(lines.take())
    data = b"".join(encoded)
    offsets = tuple(accumulate((len(line) for line in encoded), initial=0))
    return RenderedBlock(data, offsets, hashlib.sha256(data).hexdigest())


EMPTY_BLOCK = RenderedBlock(b"", (0,), hashlib.sha256(b"").hexdigest())


@dataclass(frozen=True)
class ResultObject:
    """One result file: :data:`HEADER`, then the block repeated to ``rows`` rows."""

    block: RenderedBlock
    rows: int
    etag: str
    content_type: str = CSV_CONTENT_TYPE

    @property
    def size(self) -> int:
        """The exact length of the file in bytes."""
        if self.rows == 0:
            return len(HEADER)
        repeats, rest = divmod(self.rows, self.block.rows)
        return len(HEADER) + repeats * len(self.block.data) + self.block.offsets[rest]

    def pieces(self, start: int, end: int) -> Iterator[bytes]:
        """The bytes ``start`` up to (not including) ``end``, in pieces of at most
        :data:`PIECE_BYTES`, sliced out of the header and the block."""
        end = min(end, self.size)
        data = self.block.data
        position = start
        while position < end:
            if position < len(HEADER):
                stop = min(end, len(HEADER), position + PIECE_BYTES)
                yield HEADER[position:stop]
                position = stop
                continue
            inner = (position - len(HEADER)) % len(data)
            length = min(end - position, len(data) - inner, PIECE_BYTES)
            yield data[inner : inner + length]
            position += length


@dataclass(frozen=True)
class BytesObject:
    """A small object held whole (``metadata.json``)."""

    data: bytes
    content_type: str = "application/json"

    @property
    def size(self) -> int:
        return len(self.data)

    @property
    def etag(self) -> str:
        return f'"{hashlib.sha256(self.data).hexdigest()[:32]}"'

    def pieces(self, start: int, end: int) -> Iterator[bytes]:
        for position in range(start, min(end, len(self.data)), PIECE_BYTES):
            yield self.data[position : min(end, position + PIECE_BYTES)]


_BlockKey = tuple[int, str, int, int]


class ResultCache:
    """One simulator's rendered blocks (a small LRU) and GETs per result file."""

    def __init__(self, capacity: int = BLOCK_CACHE_SIZE) -> None:
        self.capacity = capacity
        self.blocks: OrderedDict[_BlockKey, RenderedBlock] = OrderedDict()
        """(seed, execution id, file number, block rows) -> the rendered block."""
        self.gets: Counter[tuple[str, int]] = Counter()
        """(execution id, file number) -> GETs of that file answered with its bytes."""

    def block(self, seed: int, execution_id: str, file_number: int, rows: int) -> RenderedBlock:
        key = (seed, execution_id, file_number, rows)
        found = self.blocks.get(key)
        if found is not None:
            self.blocks.move_to_end(key)
            return found
        made = render_block(seed, execution_id, file_number, rows)
        self.blocks[key] = made
        while len(self.blocks) > self.capacity:
            self.blocks.popitem(last=False)
        return made

    def count_get(self, execution_id: str, file_number: int) -> int:
        """Note one more GET of a file; how many there were before it."""
        key = (execution_id, file_number)
        before = self.gets[key]
        self.gets[key] = before + 1
        return before


_CACHES: WeakKeyDictionary[SimulatorState, ResultCache] = WeakKeyDictionary()


def result_cache(state: SimulatorState) -> ResultCache:
    """The :class:`ResultCache` of the simulator whose state is ``state``."""
    cache = _CACHES.get(state)
    if cache is None:
        cache = _CACHES[state] = ResultCache()
    return cache


def result_object(state: SimulatorState, record: ExecutionRecord, file_number: int) -> ResultObject:
    """Result file ``file_number`` of ``record``, as the config describes it now."""
    seed = state.config.seed
    rows = 0 if record.result_is_empty else state.config.result_rows
    block = EMPTY_BLOCK
    if rows:
        block = result_cache(state).block(
            seed, record.execution_id, file_number, min(rows, BLOCK_ROWS)
        )
    identity = f"{seed}|{record.execution_id}|{file_number}|{rows}|{block.digest}"
    etag = f'"{hashlib.sha256(identity.encode()).hexdigest()[:32]}"'
    return ResultObject(block, rows, etag)
