"""The result downloader against the simulator: files, pages, waiting, expiry, cuts, resume.

Every file written is compared with the bytes the simulator serves for it, fetched
directly; faults come from an ASGI app in front of the simulator (results_support).
"""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path
from typing import Any

import httpcore
from engine_support import fast_engine
from results_support import ResultsEnv, csv_rows, make_results_env

from amc_tui.amc.connection import READ_BYTES, build_http_client
from amc_tui.amc.models import DownloadUrls
from amc_tui.domain import Execution, ExecutionStatus
from amc_tui.engine.download_progress import DownloadPhase
from amc_tui.engine.downloads import ResultOutcome
from amc_tui.engine.locks import BatchLock
from amc_tui.engine.result_files import file_names
from amc_tui.engine.retry import RetryPolicy
from amc_tui.settings import HttpSettings
from amc_tui.store.history import HistoryStore
from amc_tui.store.results import FileKind, ResultStatus


async def served(env: ResultsEnv, execution: Execution) -> list[bytes]:
    """The data files' bytes as the simulator serves them, in order."""
    assert execution.amc_execution_id is not None
    urls = await env.env.client.get_download_urls(execution.instance_id, execution.amc_execution_id)
    seen_before = len(env.faults.seen)
    bodies = []
    for url in urls.download_urls:
        response = await env.env.client.http.get(url)
        assert response.status_code == 200
        bodies.append(response.content)
    del env.faults.seen[seen_before:]  # the test's own reads are not the downloader's
    return bodies


def assert_whole(outcome: ResultOutcome, bodies: list[bytes]) -> None:
    data = sorted(outcome.data_files, key=lambda f: f.number)
    assert [f.path.read_bytes() for f in data] == bodies
    for file, body in zip(data, bodies, strict=True):
        assert file.size == len(body)
        assert file.sha256 == hashlib.sha256(body).hexdigest()
        assert not file.path.with_name(file.path.name + ".part").exists()


async def test_every_file_of_every_page_lands_whole_and_is_recorded(
    tmp_path: Path, store: HistoryStore
) -> None:
    env = await make_results_env(
        tmp_path, store, result_files=3, result_rows=40, download_urls_page_size=2
    )
    [execution] = await env.succeeded(1)
    outcome = await env.downloader().download(execution)

    assert outcome.status is ResultStatus.DOWNLOADED, outcome.error
    bodies = await served(env, execution)
    assert len(bodies) == 3
    assert_whole(outcome, bodies)
    assert outcome.directory == tmp_path / "data" / "results" / execution.batch_id / (
        execution.instance_id
    )
    assert [len(csv_rows(b)) for b in bodies] == [41, 41, 41]  # header + rows, each file
    metadata = [f for f in outcome.files if f.kind is FileKind.METADATA]
    assert len(metadata) == 1 and metadata[0].path.read_bytes().startswith(b"{")

    assert execution.id is not None
    recorded = await store.results.get(execution.id)
    assert recorded is not None
    assert recorded.status is ResultStatus.DOWNLOADED and recorded.files == 3
    by_number = {f.number: f for f in recorded.data_files}
    for file in outcome.data_files:
        row = by_number[file.number]
        assert row.done and row.size == file.size and row.sha256 == file.sha256
        assert row.name == file.path.name


async def test_result_requests_carry_no_amc_credentials(
    tmp_path: Path, store: HistoryStore
) -> None:
    env = await make_results_env(tmp_path, store)
    [execution] = await env.succeeded(1)
    await env.downloader().download(execution)
    gets = env.result_gets()
    assert gets
    for seen in gets:
        assert "authorization" not in seen.headers
        assert "amazon-advertising-api-clientid" not in seen.headers
        assert not any("advertiser" in name for name in seen.headers)


async def test_results_not_yet_published_are_waited_for(
    tmp_path: Path, store: HistoryStore
) -> None:
    # 400 simulated seconds at 1000x: 0.4 s real of 404 answers after SUCCEEDED.
    env = await make_results_env(tmp_path, store, publish_delay=400.0)
    [execution] = await env.succeeded(1)
    outcome = await env.downloader().download(execution)

    assert outcome.status is ResultStatus.DOWNLOADED, outcome.error
    assert env.faults.url_requests >= 2
    phases = [u.phase for u in env.updates]
    assert DownloadPhase.WAITING in phases
    assert phases.index(DownloadPhase.WAITING) < phases.index(DownloadPhase.DOWNLOADED)
    assert_whole(outcome, await served(env, execution))


async def test_results_never_published_fail_after_the_wait(
    tmp_path: Path, store: HistoryStore
) -> None:
    env = await make_results_env(tmp_path, store, publish_delay=10_000_000.0)
    [execution] = await env.succeeded(1)
    outcome = await env.downloader(ready_wait=0.2).download(execution)

    assert outcome.status is ResultStatus.FAILED
    assert outcome.error is not None and "not published" in outcome.error
    assert execution.id is not None
    recorded = await store.results.get(execution.id)
    assert recorded is not None and recorded.status is ResultStatus.FAILED
    assert recorded.error_message == outcome.error


async def test_an_expired_link_is_asked_for_again(tmp_path: Path, store: HistoryStore) -> None:
    env = await make_results_env(tmp_path, store, result_files=2)
    [execution] = await env.succeeded(1)
    env.faults.refuse = 2  # the first two file requests: 403, as S3 says for an expired URL
    outcome = await env.downloader().download(execution)

    assert outcome.status is ResultStatus.DOWNLOADED, outcome.error
    assert env.faults.url_requests == 3  # the first listing, then one fresh URL per refusal
    assert_whole(outcome, await served(env, execution))


async def test_a_link_refused_every_time_fails_without_a_file(
    tmp_path: Path, store: HistoryStore
) -> None:
    env = await make_results_env(tmp_path, store)
    [execution] = await env.succeeded(1)
    env.faults.refuse = 100
    outcome = await env.downloader().download(execution)

    assert outcome.status is ResultStatus.FAILED
    assert outcome.error == "The result's download link has expired or was refused"
    assert list(outcome.directory.glob("*.csv")) == []


async def test_a_real_expired_url_from_the_simulator_is_renewed(
    tmp_path: Path, store: HistoryStore
) -> None:
    env = await make_results_env(tmp_path, store, download_url_ttl=0.05)
    [execution] = await env.succeeded(1)
    assert execution.amc_execution_id is not None
    stale = await env.env.client.get_download_urls(
        execution.instance_id, execution.amc_execution_id
    )
    await asyncio.sleep(0.1)  # the simulator's clock, real time: the link is now expired
    expired = await env.env.client.http.get(stale.download_urls[0])
    assert expired.status_code == 403

    # A downloader that got that listing would be refused, ask again and succeed: the
    # downloader asks the listing itself, so here the refusal comes from the wrapper.
    env.faults.refuse = 1
    outcome = await env.downloader().download(execution)
    assert outcome.status is ResultStatus.DOWNLOADED, outcome.error


async def test_a_body_cut_short_is_resumed_with_a_range(
    tmp_path: Path, store: HistoryStore
) -> None:
    env = await make_results_env(tmp_path, store, result_rows=2_000)
    [execution] = await env.succeeded(1)
    env.faults.cuts, env.faults.cut_after = 1, 50_000
    outcome = await env.downloader().download(execution)

    assert outcome.status is ResultStatus.DOWNLOADED, outcome.error
    gets = env.result_gets()
    assert len(gets) == 2
    assert "range" not in gets[0].headers
    assert gets[1].headers["range"] == "bytes=50000-"
    assert gets[1].headers["if-range"]  # the ETag of the first answer
    assert_whole(outcome, await served(env, execution))


async def test_a_body_always_cut_short_is_never_taken_for_whole(
    tmp_path: Path, store: HistoryStore
) -> None:
    env = await make_results_env(tmp_path, store, result_rows=2_000)
    [execution] = await env.succeeded(1)
    env.faults.cuts, env.faults.cut_after = 100, 1_000
    outcome = await env.downloader(retry=RetryPolicy(max_attempts=3, delay_base=0.001)).download(
        execution
    )

    assert outcome.status is ResultStatus.FAILED
    assert outcome.error == "The download was cut off"
    assert list(outcome.directory.glob("*.csv")) == []  # only the .part
    [part] = outcome.directory.glob("*.part")
    assert part.stat().st_size == 3_000  # three tries, each resumed 1,000 bytes further
    assert execution.id is not None
    recorded = await store.results.get(execution.id)
    assert recorded is not None and recorded.status is ResultStatus.FAILED
    assert [f.done for f in recorded.recorded] == [False]


async def test_server_errors_are_retried(tmp_path: Path, store: HistoryStore) -> None:
    env = await make_results_env(tmp_path, store)
    [execution] = await env.succeeded(1)
    env.faults.unavailable = 2
    outcome = await env.downloader().download(execution)
    assert outcome.status is ResultStatus.DOWNLOADED, outcome.error
    assert len(env.result_gets()) == 3


async def test_a_download_given_up_half_way_resumes_next_time(
    tmp_path: Path, store: HistoryStore
) -> None:
    env = await make_results_env(tmp_path, store, result_rows=3_000)
    [execution] = await env.succeeded(1)
    env.faults.cuts, env.faults.cut_after = 1, 100_000
    once = RetryPolicy(max_attempts=1, delay_base=0.001)
    first = await env.downloader(retry=once).download(execution)
    assert first.status is ResultStatus.FAILED
    [part] = first.directory.glob("*.part")
    assert part.stat().st_size == 100_000
    assert execution.id is not None
    recorded = await store.results.get(execution.id)
    assert recorded is not None and [f.done for f in recorded.recorded] == [False]
    assert recorded.recorded[0].etag  # what a resume asks for with If-Range

    outcome = await env.downloader(retry=once).download(execution)
    assert outcome.status is ResultStatus.DOWNLOADED, outcome.error
    assert env.result_gets()[-1].headers["range"] == "bytes=100000-"
    assert_whole(outcome, await served(env, execution))


async def test_results_already_on_disk_are_not_fetched_again(
    tmp_path: Path, store: HistoryStore
) -> None:
    env = await make_results_env(tmp_path, store, result_files=2)
    [execution] = await env.succeeded(1)
    first = await env.downloader().download(execution)
    gets = len(env.result_gets())

    again = await env.downloader().download(execution)
    assert again.already_there and again.status is ResultStatus.DOWNLOADED
    assert len(env.result_gets()) == gets
    assert [f.sha256 for f in again.files] == [f.sha256 for f in first.files]

    # One file lost on disk: only that one is fetched again.
    first.data_files[1].path.unlink()
    third = await env.downloader().download(execution)
    assert not third.already_there
    assert [s.path.rsplit("/", 1)[-1] for s in env.result_gets()[gets:]] == ["2.csv"]
    assert_whole(third, await served(env, execution))


async def test_a_batch_downloads_its_succeeded_executions_only(
    tmp_path: Path, store: HistoryStore
) -> None:
    env = await make_results_env(tmp_path, store)
    batch = await env.env.new_batch(4)
    failing = batch.executions[1].instance_id
    env.env.sim.config.instance_scripts[failing] = ["fail"]
    await env.env.runner().run(batch.id)
    outcomes = await env.downloader().download_batch(batch.id)

    finished = await store.get_batch(batch.id)
    assert finished is not None
    succeeded = [ex.id for ex in finished.executions if ex.status is ExecutionStatus.SUCCEEDED]
    assert sorted(o.execution.id or 0 for o in outcomes) == sorted(i or 0 for i in succeeded)
    assert all(o.status is ResultStatus.DOWNLOADED for o in outcomes)


async def test_asking_twice_at_once_downloads_once(tmp_path: Path, store: HistoryStore) -> None:
    env = await make_results_env(tmp_path, store, result_rows=2_000)
    [execution] = await env.succeeded(1)
    downloader = env.downloader()
    one, two = await asyncio.gather(downloader.download(execution), downloader.download(execution))
    assert one is two
    assert len(env.result_gets()) == 1


async def test_an_execution_without_results_is_refused_plainly(
    tmp_path: Path, store: HistoryStore
) -> None:
    env = await make_results_env(tmp_path, store)
    batch = await env.env.new_batch(1)
    outcome = await env.downloader().download(batch.executions[0])  # still QUEUED
    assert outcome.status is ResultStatus.FAILED
    assert outcome.error == "Only a succeeded execution has results; this one is QUEUED"
    assert env.faults.url_requests == 0


async def test_at_most_the_configured_number_download_at_once(
    tmp_path: Path, store: HistoryStore
) -> None:
    env = await make_results_env(tmp_path, store, result_rows=2_000)
    batch = await env.finished_batch(6)
    active = peak = 0
    inner = env.faults.app

    async def counting(scope: Any, receive: Any, send: Any) -> None:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        try:
            await asyncio.sleep(0.01)  # each answer takes a moment, so they overlap
            await inner(scope, receive, send)
        finally:
            active -= 1

    env.faults.app = counting
    outcomes = await env.downloader(fast_engine(max_concurrent_executions=2)).download_batch(
        batch.id
    )
    assert [o.status for o in outcomes] == [ResultStatus.DOWNLOADED] * 6
    assert peak == 2


async def test_results_another_process_is_downloading_are_left_to_it(
    tmp_path: Path, store: HistoryStore
) -> None:
    env = await make_results_env(tmp_path, store)
    [execution] = await env.succeeded(1)
    key = f"results-{execution.batch_id}-{execution.id}"
    with BatchLock(env.env.lock_dir, key):  # as another process would hold it
        outcome = await env.downloader().download(execution)
    assert outcome.status is ResultStatus.FAILED
    assert outcome.error is not None
    assert outcome.error.startswith(f"The results of {execution.instance_id} are being downloaded")
    assert env.result_gets() == []


async def test_downloads_a_crash_cut_short_are_finished_by_the_next_downloader(
    tmp_path: Path, store: HistoryStore
) -> None:
    env = await make_results_env(tmp_path, store, result_rows=2_000)
    one, two = await env.succeeded(2)
    assert one.id is not None and two.id is not None
    await store.results.start(one.id)  # as a process that died mid-download leaves it
    assert await store.results.unfinished() == [one.id]

    outcomes = await env.downloader().resume_unfinished()
    assert [o.execution.id for o in outcomes] == [one.id]
    assert outcomes[0].status is ResultStatus.DOWNLOADED
    assert_whole(outcomes[0], await served(env, one))
    assert await store.results.unfinished() == []
    assert await store.results.get(two.id) is None  # never asked for: left alone


async def test_a_results_folder_that_cannot_be_written_is_a_clear_failure(
    tmp_path: Path, store: HistoryStore
) -> None:
    env = await make_results_env(tmp_path, store)
    [execution] = await env.succeeded(1)
    env.results_dir.parent.mkdir(parents=True, exist_ok=True)
    env.results_dir.write_text("a file where the results folder should be")
    outcome = await env.downloader().download(execution)

    assert outcome.status is ResultStatus.FAILED
    assert outcome.error is not None
    assert outcome.error.startswith(f"The result could not be written to {env.results_dir}")
    assert execution.id is not None
    recorded = await store.results.get(execution.id)
    assert recorded is not None and recorded.error_message == outcome.error
    assert env.results_dir.read_text() == "a file where the results folder should be"


def test_file_names_from_urls_stay_inside_the_results_folder() -> None:
    urls = DownloadUrls(
        downloadUrls=[
            "https://s3.example/bucket/part-00000.csv?X-Amz-Signature=abc",
            "https://s3.example/bucket/..%2F..%2F.bashrc?sig=1",
            "https://s3.example/bucket/%2E%2E?sig=2",
            "https://s3.example/bucket/part-00000.csv?X-Amz-Signature=def",
            "https://s3.example/bucket/name.part?sig=3",
        ],
        metadataDownloadUrls=["https://s3.example/bucket/?sig=4"],
    )
    names = [name for _, _, name, _ in file_names(urls)]
    assert names == [
        "part-00000.csv",
        "result-2.csv",  # ".bashrc" is hidden: not a name to write
        "result-3.csv",
        "data-4-part-00000.csv",  # the same name twice: made unique
        "result-5.csv",  # ".part" is what unfinished files are called
        "metadata-1.json",
    ]
    assert all("/" not in n and not n.startswith(".") for n in names)


class _ChunkedStream(httpcore.AsyncNetworkStream):
    """A socket holding one whole answer: each read gets at most what it asks for."""

    def __init__(self, answer: bytes) -> None:
        self.pending = answer
        self.asked: list[int] = []

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        self.asked.append(max_bytes)
        chunk, self.pending = self.pending[:max_bytes], self.pending[max_bytes:]
        return chunk

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        return None

    async def aclose(self) -> None:
        return None


async def test_the_http_client_reads_a_socket_in_large_blocks() -> None:
    # httpcore asks for 64 KiB at a time by default, which made a large download
    # CPU-bound in its own layers; amc-tui's client asks for READ_BYTES.
    async with build_http_client(HttpSettings()):
        pass
    body = bytes(range(256)) * 4096  # 1 MiB
    head = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body)
    stream = _ChunkedStream(head + body)
    connection = httpcore.AsyncHTTP11Connection(
        origin=httpcore.Origin(b"http", b"results.example", 80), stream=stream
    )
    response = await connection.handle_async_request(
        httpcore.Request("GET", "http://results.example/1.csv", headers=[(b"Host", b"x")])
    )
    chunks = [chunk async for chunk in response.aiter_stream()]
    await connection.aclose()

    assert b"".join(chunks) == body
    assert READ_BYTES > 64 * 1024
    assert set(stream.asked) == {READ_BYTES}
    assert max(map(len, chunks)) > 64 * 1024
