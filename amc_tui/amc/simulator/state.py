"""The simulator's memory: :class:`SimulatorState` and its seeded randomness.

It holds the config, the two clocks, the issued tokens, the executions, the remaining
scripted outcomes and the stats.  Randomness comes from :meth:`SimulatorState.rng`:
a fresh ``random.Random`` seeded with the config's seed, a key (such as
``("create", instance_id)``) and how many times that key was asked for before, so an
outcome does not depend on how concurrent requests to *other* keys interleave.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import random
from collections import Counter
from collections.abc import Callable
from datetime import datetime

from amc_tui.amc.simulator.config import ScriptOutcome, SimInstance, SimulatorConfig
from amc_tui.amc.simulator.records import ExecutionRecord
from amc_tui.amc.simulator.stats import SimulatorStats


class SimulatorState:
    """Everything one simulator knows and remembers.

    The config is read on every request, so knobs changed on it take effect at once.
    """

    def __init__(
        self,
        config: SimulatorConfig,
        clock: Callable[[], float],
        wall_clock: Callable[[], datetime],
    ) -> None:
        self.config = config
        self.clock = clock
        self.wall_clock = wall_clock
        self.executions: dict[str, ExecutionRecord] = {}
        self.next_seq = 1
        """The ``seq`` of the next execution made (list order and paging cursor)."""
        self.revision = 0
        """Bumped by every change to the executions (a create or an accepted cancel)."""
        self.tokens: dict[str, tuple[str, float]] = {}
        """access token -> (client id, expiry clock reading)."""
        self.stats = SimulatorStats(count_in_flight=self.in_flight)
        self.signing_key = hashlib.sha256(f"amc-simulator|{config.seed}".encode()).digest()
        self._draws: Counter[str] = Counter()
        self._maybe_active: dict[str, ExecutionRecord] = {}
        self._instances_of: tuple[int, int, dict[str, SimInstance]] = (0, 0, {})

    # --- randomness ----------------------------------------------------------------

    def rng(self, *key: object) -> random.Random:
        """A new RNG for the next draw under ``key``, determined by the seed alone."""
        name = "|".join(str(part) for part in key)
        count = self._draws[name]
        self._draws[name] += 1
        return random.Random(f"{self.config.seed}|{name}|{count}")  # noqa: S311 - a simulation

    # --- executions ----------------------------------------------------------------

    def in_flight(self) -> int:
        """Executions PENDING or RUNNING now.

        Only records not yet seen finished are looked at (a finished execution never
        runs again), so this stays cheap with thousands of executions on record.
        """
        now = self.clock()
        count = 0
        for execution_id, seen in list(self._maybe_active.items()):
            record = self.executions.get(execution_id)
            if record is None:  # pruned
                del self._maybe_active[execution_id]
                continue
            if record is not seen:  # replaced by a newer copy from the state file
                self._maybe_active[execution_id] = record
            if record.is_in_flight(now):
                count += 1
            else:
                del self._maybe_active[execution_id]
        return count

    def remember(self, record: ExecutionRecord) -> None:
        """Keep ``record`` (new, or a newer copy of a known one)."""
        self.executions[record.execution_id] = record
        self._maybe_active[record.execution_id] = record

    def take_seq(self) -> int:
        """The next execution sequence number, consumed."""
        seq = self.next_seq
        self.next_seq += 1
        return seq

    def add_execution(self, record: ExecutionRecord) -> None:
        self.remember(record)
        self.revision += 1
        self.stats.executions_made_per_instance[record.instance_id] += 1
        self.stats.max_in_flight = max(self.stats.max_in_flight, self.in_flight())

    def request_cancel(self, record: ExecutionRecord, now: float) -> None:
        """Note a cancel of ``record`` asked for at clock reading ``now`` (first one only)."""
        if record.cancel_requested_clock is None:
            record.cancel_requested_clock = now
            self.revision += 1
            self.stats.cancels += 1

    def next_script(self, instance_id: str) -> ScriptOutcome | None:
        """The next scripted create outcome of the instance, consumed; None when used up.

        Consumed from ``config.instance_scripts`` itself, so a test may give an instance
        a script at any time through ``simulator.config``.
        """
        script = self.config.instance_scripts.get(instance_id)
        return script.pop(0) if script else None

    @property
    def instances(self) -> dict[str, SimInstance]:
        """Every known instance (of any account) by id, from the current config."""
        listed = self.config.instances
        key, size, by_id = self._instances_of
        if key != id(listed) or size != len(listed):
            by_id = {i.instance_id: i for i in listed}
            self._instances_of = (id(listed), len(listed), by_id)
        return by_id

    def account_instances(self) -> list[SimInstance]:
        """The instances of the account the credentials belong to, in config order."""
        return [i for i in self.config.instances if i.advertiser_id == self.config.advertiser_id]

    # --- opaque tokens (nextToken) -------------------------------------------------

    def _mac(self, text: str) -> str:
        return hmac.new(self.signing_key, text.encode(), hashlib.sha256).hexdigest()[:12]

    def page_token(self, kind: str, value: int) -> str:
        """An opaque, tamper-evident ``nextToken`` carrying one integer."""
        text = f"{kind}:{value}"
        raw = f"{text}:{self._mac(text)}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def read_page_token(self, kind: str, token: str) -> int | None:
        """The integer in a token made by :meth:`page_token`, or None if it is not one."""
        try:
            padded = token + "=" * (-len(token) % 4)
            text = base64.urlsafe_b64decode(padded.encode()).decode()
            token_kind, value, mac = text.split(":")
            number = int(value)
        except (ValueError, UnicodeDecodeError):
            return None
        if token_kind != kind or not hmac.compare_digest(mac, self._mac(f"{kind}:{value}")):
            return None
        return number
