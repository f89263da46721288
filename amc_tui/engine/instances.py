"""The instance catalog: a profile's AMC instances, cached in the history store.

AMC's list is fetched on demand (``refresh``) and recorded in the store, which
gives each instance a stable UUID; later commands read the cached list, so
naming an instance needs no call to AMC.
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

from amc_tui.amc.client import AmcClient
from amc_tui.amc.models import AmcInstance
from amc_tui.domain import Instance
from amc_tui.engine.retry import RetryPolicy, Sleep, call_with_retries
from amc_tui.settings import Settings
from amc_tui.store.history import HistoryStore
from amc_tui.store.instances import InstanceRecord

REGION_BY_HOST = {
    "advertising-api.amazon.com": "NA",
    "advertising-api-eu.amazon.com": "EU",
    "advertising-api-fe.amazon.com": "FE",
}


def region_of_api_url(api_url: str) -> str:
    """The AMC region a host serves (NA, EU, FE), or '' for another host."""
    return REGION_BY_HOST.get(urlsplit(api_url).hostname or "", "")


class InstanceCatalog:
    """The instances of one profile, as last seen on AMC."""

    def __init__(
        self,
        store: HistoryStore,
        *,
        profile: str,
        advertiser_id: str,
        api_url: str,
        retry: RetryPolicy | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.store = store
        self.retry = retry or RetryPolicy()
        self.sleep = sleep
        self.profile = profile
        self.advertiser_id = advertiser_id
        self.default_region = region_of_api_url(api_url)

    @classmethod
    def for_settings(cls, store: HistoryStore, settings: Settings) -> InstanceCatalog:
        """The catalog of the active profile (the demo account when there is none)."""
        profile = settings.profile
        return cls(
            store,
            profile=settings.profile_name,
            advertiser_id=profile.advertiser_id if profile else "",
            api_url=profile.api_url if profile else "",
            retry=RetryPolicy.from_settings(settings.engine),
        )

    async def cached(self) -> list[Instance]:
        """The instances recorded at the last refresh (empty if never refreshed)."""
        return await self.store.list_instances(self.profile)

    async def refresh(self, client: AmcClient) -> list[Instance]:
        """Ask AMC for every instance (retrying transient errors), record them, and
        return the active ones.  Nothing is recorded unless the whole list came."""
        listed = await call_with_retries(
            client.list_instances, self.retry, what="list instances", sleep=self.sleep
        )
        return await self.store.upsert_instances(
            self.profile, [self._record(item) for item in listed]
        )

    async def load(self, client: AmcClient, *, refresh: bool = False) -> list[Instance]:
        """The cached instances, refreshed from AMC when asked or when none are cached."""
        if not refresh:
            cached = await self.cached()
            if cached:
                return cached
        return await self.refresh(client)

    def _record(self, item: AmcInstance) -> InstanceRecord:
        return InstanceRecord(
            instance_id=item.instance_id,
            name=item.name or item.instance_id,
            instance_type=item.instance_type,
            region=item.region or item.aws_region or self.default_region,
            advertiser_id=self.advertiser_id,
        )
