"""The event store contract, against the in-memory, the SQLite and the PostgreSQL store."""

from __future__ import annotations

import asyncio
import sqlite3
import sys
import time
from collections.abc import AsyncIterator
from contextlib import suppress
from pathlib import Path

import pytest

from temporal_executor.errors import ConfigError
from temporal_executor.llm import Message, ToolCall, Usage
from temporal_executor.store import (
    Store,
    TaskFilter,
    open_sqlite_store,
    open_store,
)
from temporal_executor.store.sqlite_db import Database
from temporal_executor.tasks import Event, TaskState, TaskStatus
from temporal_executor.tenants import scoped
from tests.store.conftest import MakeStore


@pytest.fixture
def sqlite_path(tmp_path: Path) -> Path:
    return tmp_path / "events.db"


async def take(events: AsyncIterator[Event], count: int, within: float = 5.0) -> list[Event]:
    async with asyncio.timeout(within):
        return [await anext(events) for _ in range(count)]


# --- append ----------------------------------------------------------------------------------


async def test_seq_is_gap_free_from_one(store: Store) -> None:
    for i in range(5):
        event = await store.events.append("t1", f"k{i}", "test", {"i": i})
        assert event is not None
        assert (event.task_id, event.seq, event.type, event.data) == ("t1", i + 1, "test", {"i": i})

    events = await store.events.read("t1")
    assert [e.seq for e in events] == [1, 2, 3, 4, 5]
    assert [e.data["i"] for e in events] == [0, 1, 2, 3, 4]


async def test_same_key_returns_the_stored_event(store: Store) -> None:
    first = await store.events.append("t1", "started", "task.started", {"a": 1})
    again = await store.events.append("t1", "started", "task.started", {"a": 2})
    after = await store.events.append("t1", "next", "test", {})

    assert first is not None and again is not None and after is not None
    assert again == first
    assert again.data == {"a": 1}
    assert after.seq == 2
    assert len(await store.events.read("t1")) == 2


async def test_a_workflow_keyed_event_written_again_with_other_data_says_what_ran(
    store: Store,
) -> None:
    # A workflow task thrown away after its `record` ran, then run again from history.
    decided = await store.events.append("t1", "wf:1", "approval.decided", {"approved": False})
    after = await store.events.append("t1", "wf:2", "tool.result", {})
    again = await store.events.append("t1", "wf:1", "approval.decided", {"approved": True})
    same = await store.events.append("t1", "wf:1", "approval.decided", {"approved": True})

    assert decided is not None and again is not None and after is not None
    assert again.seq == decided.seq == 1 and again.data == {"approved": True} and same == again
    assert [(e.seq, e.data) for e in await store.events.read("t1")] == [
        (1, {"approved": True}),
        (2, {}),
    ]


async def test_stale_attempt_is_dropped(store: Store) -> None:
    one = await store.events.append(
        "t1", "llm-3/1/0", "llm.delta", {"t": "a"}, stream="llm-3", attempt=1
    )
    two = await store.events.append(
        "t1", "llm-3/2/0", "llm.delta", {"t": "b"}, stream="llm-3", attempt=2
    )
    stale = await store.events.append(
        "t1", "llm-3/1/1", "llm.delta", {"t": "c"}, stream="llm-3", attempt=1
    )
    more = await store.events.append(
        "t1", "llm-3/2/1", "llm.delta", {"t": "d"}, stream="llm-3", attempt=2
    )
    other = await store.events.append(
        "t1", "llm-4/1/0", "llm.delta", {"t": "e"}, stream="llm-4", attempt=1
    )

    assert stale is None
    assert one is not None and two is not None and more is not None and other is not None
    assert [one.seq, two.seq, more.seq, other.seq] == [1, 2, 3, 4]
    assert [e.data["t"] for e in await store.events.read("t1")] == ["a", "b", "d", "e"]


async def test_seq_is_per_task(store: Store) -> None:
    a1 = await store.events.append("a", "k1", "test", {})
    b1 = await store.events.append("b", "k1", "test", {})
    a2 = await store.events.append("a", "k2", "test", {})

    assert a1 is not None and b1 is not None and a2 is not None
    assert (a1.seq, b1.seq, a2.seq) == (1, 1, 2)
    assert [e.seq for e in await store.events.read("b")] == [1]


async def test_read_after_and_limit(store: Store) -> None:
    for i in range(10):
        await store.events.append("t1", f"k{i}", "test", {})

    assert [e.seq for e in await store.events.read("t1", after=7)] == [8, 9, 10]
    assert [e.seq for e in await store.events.read("t1", after=2, limit=3)] == [3, 4, 5]
    assert await store.events.read("t1", after=10) == []
    assert await store.events.read("unknown") == []


async def test_data_that_is_not_json_is_rejected(store: Store) -> None:
    with pytest.raises(TypeError):
        await store.events.append("t1", "k", "test", {"x": object()})
    assert await store.events.read("t1") == []


# --- follow ----------------------------------------------------------------------------------


async def test_follow_yields_existing_then_new_events(store: Store) -> None:
    await store.events.append("t1", "k1", "test", {"n": 1})
    await store.events.append("t1", "k2", "test", {"n": 2})
    events = store.events.follow("t1")
    try:
        assert [e.seq for e in await take(events, 2)] == [1, 2]

        async def later() -> None:
            await asyncio.sleep(0.05)
            await store.events.append("t1", "k3", "test", {"n": 3})
            await store.events.append("t1", "k4", "test", {"n": 4})

        writer = asyncio.create_task(later())
        assert [e.data["n"] for e in await take(events, 2)] == [3, 4]
        await writer
    finally:
        await events.aclose()  # type: ignore[attr-defined]


async def test_follow_after_skips_earlier_events(store: Store) -> None:
    for i in range(3):
        await store.events.append("t1", f"k{i}", "test", {})
    events = store.events.follow("t1", after=2)
    try:
        assert [e.seq for e in await take(events, 1)] == [3]
    finally:
        await events.aclose()  # type: ignore[attr-defined]


async def test_follow_wakes_on_append_without_polling(make_store: MakeStore) -> None:
    store = await make_store(poll_interval=60)
    events = store.events.follow("t1")
    try:
        first = asyncio.create_task(take(events, 1, within=1))
        await asyncio.sleep(0.05)  # the follower has read nothing and waits
        assert not first.done()
        await store.events.append("t1", "k1", "test", {})
        assert [e.seq for e in await first] == [1]
    finally:
        await events.aclose()  # type: ignore[attr-defined]


async def test_follow_sees_another_instance_by_polling(make_store: MakeStore) -> None:
    reader = await make_store(poll_interval=0.02)
    writer = reader if reader.kind == "memory" else await make_store()
    events = reader.events.follow("t1")
    try:
        first = asyncio.create_task(take(events, 2))
        await asyncio.sleep(0.05)
        await writer.events.append("t1", "k1", "test", {})
        await writer.events.append("t1", "k2", "test", {})
        assert [e.seq for e in await first] == [1, 2]
    finally:
        await events.aclose()  # type: ignore[attr-defined]


async def test_followers_at_different_places_get_another_process_appends(
    sqlite_path: Path,
) -> None:
    """Another process's appends reach each follower of a task from where it stands, in
    order and once (handed over from one read for all, with polling out of the way)."""
    reader = await open_sqlite_store(sqlite_path, poll_interval=60)
    writer = await open_sqlite_store(sqlite_path)
    await writer.events.append("t1", "k1", "test", {})
    behind, ahead = reader.events.follow("t1"), reader.events.follow("t1", after=1)
    try:
        first = asyncio.create_task(take(behind, 4))
        second = asyncio.create_task(take(ahead, 3))
        await asyncio.sleep(0.05)
        for n in (2, 3, 4):
            await writer.events.append("t1", f"k{n}", "test", {"n": n})
        assert [e.seq for e in await first] == [1, 2, 3, 4]
        assert [e.data.get("n") for e in await second] == [2, 3, 4]
    finally:
        for events in (behind, ahead):
            await events.aclose()  # type: ignore[attr-defined]
        await reader.close()
        await writer.close()


async def test_a_follow_wakes_the_idle_watcher_of_another_process(sqlite_path: Path) -> None:
    """The watcher of other processes' commits sleeps long while nobody follows; a follow
    that starts ends that sleep (else a `wait=true` request sleeps it out before it sees
    its task's events). Here its idle sleep is a minute: only the nudge can wake it."""
    await (await open_sqlite_store(sqlite_path)).close()  # the schema
    db = await Database.open(sqlite_path)
    changed = asyncio.Event()
    following = False
    db.watch(changed.set, wanted=lambda: following, idle=60)
    try:
        await asyncio.sleep(0.1)  # the watcher is in its idle sleep
        with sqlite3.connect(sqlite_path) as other:
            other.execute("INSERT INTO blobs (key, data) VALUES ('a/b', 'c')")
        following = True
        db.nudge()
        async with asyncio.timeout(5):
            await changed.wait()
    finally:
        await db.close()


# --- transcript and task state ---------------------------------------------------------------


def transcript() -> list[Message]:
    return [
        Message(role="system", content="be brief"),
        Message(role="user", content="weather in Paris?"),
        Message(
            role="assistant",
            tool_calls=[ToolCall(id="c1", name="weather", arguments={"city": "Paris"})],
        ),
        Message(role="tool", tool_call_id="c1", name="weather", content="sunny"),
    ]


async def test_messages_at_fixed_indexes(store: Store) -> None:
    messages = transcript()
    await store.transcripts.put("t1", 0, messages[:2])
    await store.transcripts.put("t1", 2, messages[2:])
    await store.transcripts.put("t1", 2, messages[2:])  # a retried activity writes them again

    assert await store.transcripts.get("t1", 4) == messages
    assert await store.transcripts.get("t1", 2) == messages[:2]
    assert await store.transcripts.get("t1", 10) == messages
    assert await store.transcripts.get("t1", 0) == []
    assert await store.transcripts.get("other", 4) == []


async def test_rolled_back_messages_are_gone(store: Store) -> None:
    messages = transcript()
    await store.transcripts.put("t1", 0, messages)
    await store.transcripts.put("t2", 0, messages)
    await store.transcripts.truncate("t1", 2)
    await store.transcripts.truncate("t1", 2)  # a retried rollback

    assert await store.transcripts.get("t1") == messages[:2]
    assert await store.transcripts.count("t1") == 2
    assert await store.transcripts.get("t2") == messages  # other sessions keep theirs
    await store.transcripts.put("t1", 2, messages[3:])  # the next turn writes from there
    assert await store.transcripts.get("t1") == [*messages[:2], messages[3]]


async def test_messages_stop_at_a_gap(store: Store) -> None:
    messages = transcript()
    await store.transcripts.put("t1", 0, messages[:2])
    await store.transcripts.put("t1", 3, messages[3:])

    assert await store.transcripts.get("t1", 4) == messages[:2]


async def test_task_state_roundtrip(store: Store) -> None:
    assert await store.tasks.get("t1") is None
    state = TaskState(task_id="t1", session_id="s1")
    await store.tasks.save(state)
    assert await store.tasks.get("t1") == state

    done = state.model_copy(
        update={"status": TaskStatus.COMPLETED, "iterations": 2, "usage": Usage(total_tokens=7)}
    )
    await store.tasks.save(done)
    assert await store.tasks.get("t1") == done


async def test_list_tasks_filters_and_pages(store: Store) -> None:
    for task_id, session_id, status in [
        ("t1", "s1", TaskStatus.RUNNING),
        ("t2", "s2", TaskStatus.RUNNING),
        ("t3", "s1", TaskStatus.RUNNING),
        ("t4", "s1", TaskStatus.FAILED),
    ]:
        await store.tasks.save(TaskState(task_id=task_id, session_id=session_id, status=status))
    await store.tasks.save(TaskState(task_id="t1", session_id="s1", status=TaskStatus.CANCELLED))

    def ids(states: list[TaskState]) -> list[str]:
        return [state.task_id for state in states]

    assert ids(await store.tasks.find()) == ["t1", "t2", "t3", "t4"]  # an update keeps its place
    assert ids(await store.tasks.find(TaskFilter(session_id="s1"))) == ["t1", "t3", "t4"]
    assert ids(await store.tasks.find(TaskFilter(statuses=["running"]))) == ["t2", "t3"]
    mixed = TaskFilter(session_id="s1", statuses=["running", "failed"])
    assert ids(await store.tasks.find(mixed)) == ["t3", "t4"]
    assert ids(await store.tasks.find(TaskFilter(statuses=[]))) == []
    assert ids(await store.tasks.find(limit=2, offset=1)) == ["t2", "t3"]
    assert (await store.tasks.find(TaskFilter(session_id="s1")))[0].status == TaskStatus.CANCELLED
    assert await store.tasks.count() == 4
    assert await store.tasks.count(mixed) == 2


async def test_tenants_keep_to_their_own(store: Store) -> None:
    """Tasks of tenants (`tenants.py`: keyed `<tenant>~<id>`) list by tenant, and deleting a
    default-tenant session whose task is named like a tenant leaves that tenant's blobs."""
    for tenant, task_id in [("default", "t1"), ("team-a", "t1"), ("team-a", "t2"), ("b", "t1")]:
        key = scoped(tenant, task_id)
        await store.tasks.save(TaskState(task_id=key, session_id=key))
        await store.blobs.put(f"{key}/content", key)
    await store.tasks.save(TaskState(task_id="team-a", session_id="team-a"))
    await store.blobs.put("team-a/content", "team-a")

    def ids(states: list[TaskState]) -> list[str]:
        return [state.task_id for state in states]

    assert ids(await store.tasks.find(TaskFilter(tenant="default"))) == ["t1", "team-a"]
    assert ids(await store.tasks.find(TaskFilter(tenant="team-a"))) == ["team-a~t1", "team-a~t2"]
    assert await store.tasks.count(TaskFilter(tenant="team-a", statuses=["running"])) == 2
    assert ids(await store.tasks.find(TaskFilter(tenant="team"))) == []
    assert await store.tasks.count() == 5
    assert await store.sessions.delete("team-a") == 1
    assert await store.blobs.get("team-a~t1/content") == "team-a~t1"
    assert await store.blobs.get("team-a/content") is None


async def test_a_tasks_first_end_stands(store: Store) -> None:
    """A workflow task run again after the task's end was recorded does not undo it."""
    done = TaskState(task_id="t1", session_id="s1", status=TaskStatus.COMPLETED, iterations=2)
    await store.tasks.save(done)
    await store.tasks.save(TaskState(task_id="t1", session_id="s1"))
    await store.tasks.save(done.model_copy(update={"status": TaskStatus.CANCELLED}))
    assert await store.tasks.get("t1") == done


async def test_list_tasks_last_updated_first(store: Store) -> None:
    """A2A's ListTasks order (spec 3.1.4): the task updated last comes first."""
    for task_id in ("t1", "t2", "t3"):
        await store.tasks.save(TaskState(task_id=task_id, session_id="s"))
        await asyncio.sleep(0.01)
    middle = time.time()
    await asyncio.sleep(0.01)
    await store.tasks.save(TaskState(task_id="t1", session_id="s", status=TaskStatus.COMPLETED))

    def ids(states: list[TaskState]) -> list[str]:
        return [state.task_id for state in states]

    assert ids(await store.tasks.find(recent_first=True)) == ["t1", "t3", "t2"]
    assert ids(await store.tasks.find(recent_first=True, limit=1, offset=1)) == ["t3"]
    assert ids(await store.tasks.find(TaskFilter(updated_after=middle))) == ["t1"]
    assert await store.tasks.count(TaskFilter(updated_after=middle)) == 1
    assert await store.tasks.count(TaskFilter(updated_after=time.time() + 1)) == 0
    # a workflow event changes a task too (a token delta does not)
    await asyncio.sleep(0.01)
    later = time.time()
    await asyncio.sleep(0.01)
    await store.events.append(
        "t2", "llm:1:0:0", "llm.delta", {"text": "x"}, stream="llm:1", attempt=0
    )
    assert await store.tasks.count(TaskFilter(updated_after=later)) == 0
    await store.events.append("t2", "wf:9", "tool.result", {"content": "ok"})
    assert ids(await store.tasks.find(TaskFilter(updated_after=later))) == ["t2"]


async def test_claim_and_release_session(store: Store) -> None:
    assert await store.sessions.claim("s1", "t1") is None
    assert await store.sessions.claim("s1", "t1") is None  # a retried claim
    assert await store.sessions.claim("s1", "t2") == "t1"
    assert await store.sessions.claim("s2", "t9") is None  # sessions are independent
    assert await store.sessions.claim("s1", "t2", replace="t1") is None

    await store.sessions.release("s1", "t1")  # no longer the holder: nothing happens
    assert await store.sessions.claim("s1", "t3") == "t2"
    await store.sessions.release("s1", "t2")
    assert await store.sessions.claim("s1", "t3") is None

    # A task that ends while queued hands the session back to the one it waited for.
    assert await store.sessions.claim("s1", "t4", replace="t3") is None
    await store.sessions.release("s1", "t4", to="t3")
    await store.sessions.release("s1", "t4", to="t3")  # a retried release: nothing happens
    assert await store.sessions.claim("s1", "t5") == "t3"


async def test_blobs_roundtrip(store: Store) -> None:
    assert await store.blobs.get("t1/missing") is None
    await store.blobs.put("t1/a", "first")
    await store.blobs.put("t1/a", "second")  # a retried activity writes again
    content = "héllo \x00 wörld " * 1000
    await store.blobs.put("t1/b", content)

    assert await store.blobs.get("t1/a") == "second"
    assert await store.blobs.get("t1/b") == content


async def test_definitions_by_kind_and_name(make_store: MakeStore) -> None:
    """Added once per name (a second add changes nothing), listed oldest first per kind,
    seen by another instance of the store (another process, another host), deleted."""
    store = await make_store()
    other = store if store.kind == "memory" else await make_store()  # (memory: one process)
    definitions = store.definitions
    data = {"template": {"user_message": "héllo"}, "interval": "5s"}
    assert await definitions.add("schedule", "s1", data)
    assert not await definitions.add("schedule", "s1", {"changed": True})
    assert await definitions.add("schedule", "s0", {"n": 0})
    assert await definitions.add("trigger", "s1", {"kind": "trigger"})  # kinds are apart
    data["interval"] = "1h"  # the caller's dict, changed later, is not what was stored

    assert await other.definitions.get("schedule", "s1") == {
        "template": {"user_message": "héllo"},
        "interval": "5s",
    }
    assert await definitions.get("schedule", "missing") is None
    assert await other.definitions.every("schedule") == [
        {"template": {"user_message": "héllo"}, "interval": "5s"},
        {"n": 0},
    ]
    assert await definitions.every("trigger") == [{"kind": "trigger"}]

    assert await other.definitions.delete("schedule", "s1")
    assert not await definitions.delete("schedule", "s1")
    assert await definitions.every("schedule") == [{"n": 0}]
    assert await definitions.get("trigger", "s1") == {"kind": "trigger"}


async def test_delete_session_removes_its_tasks_only(store: Store) -> None:
    for task_id, session_id in [("t1", "s1"), ("t2", "s1"), ("t10", "s2")]:
        await store.tasks.save(TaskState(task_id=task_id, session_id=session_id))
        await store.events.append(task_id, "k", "test", {})
        await store.blobs.put(f"{task_id}/content", task_id)
    await store.transcripts.put("s1", 0, transcript())
    await store.transcripts.put("s2", 0, transcript()[:1])
    assert await store.sessions.claim("s1", "t2") is None

    assert await store.sessions.delete("s1") == 2

    assert await store.tasks.get("t1") is None and await store.tasks.get("t2") is None
    assert await store.events.read("t1") == [] and await store.events.read("t2") == []
    assert await store.blobs.get("t1/content") is None
    assert await store.transcripts.get("s1") == []
    assert await store.transcripts.count("s1") == 0
    assert await store.sessions.claim("s1", "t5") is None  # the claim went with the session
    # The other session, including a task whose id starts with a deleted one's, is untouched.
    assert await store.tasks.get("t10") is not None
    assert [e.seq for e in await store.events.read("t10")] == [1]
    assert await store.blobs.get("t10/content") == "t10"
    assert await store.transcripts.count("s2") == 1
    assert await store.sessions.delete("s1") == 0


# --- SQLite across connections and processes --------------------------------------------------


async def test_two_instances_append_concurrently(sqlite_path: Path) -> None:
    a = await open_sqlite_store(sqlite_path)
    b = await open_sqlite_store(sqlite_path)
    try:

        async def append_all(store: Store, name: str) -> None:
            for i in range(200):
                await store.events.append("t1", f"{name}-{i}", "test", {"by": name})
                await asyncio.sleep(0.001)  # without a pause one side takes the lock throughout

        await asyncio.gather(append_all(a, "a"), append_all(b, "b"))
        events = await a.events.read("t1", limit=1000)
    finally:
        await a.close()
        await b.close()

    assert [e.seq for e in events] == list(range(1, 401))
    assert sum(e.data["by"] == "a" for e in events) == 200


CHILD = """
import asyncio, sys
from temporal_executor.store import open_sqlite_store

async def main() -> None:
    store = await open_sqlite_store(sys.argv[1])
    print("ready", flush=True)
    sys.stdin.readline()
    for i in range(100):
        await store.events.append("t1", f"child-{i}", "test", {"by": "child"})
        await asyncio.sleep(0.001)
    await store.close()

asyncio.run(main())
"""


async def test_two_processes_append_concurrently(sqlite_path: Path) -> None:
    store = await open_sqlite_store(sqlite_path)
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        CHILD,
        str(sqlite_path),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert child.stdin is not None and child.stdout is not None
    try:
        async with asyncio.timeout(8):
            assert await child.stdout.readline() == b"ready\n"
            child.stdin.write(b"go\n")
            await child.stdin.drain()
            for i in range(100):
                await store.events.append("t1", f"parent-{i}", "test", {"by": "parent"})
                await asyncio.sleep(0.001)  # let the child take the write lock in between
            assert await child.wait() == 0
        events = await store.events.read("t1")
    finally:
        if child.returncode is None:
            child.kill()
            await child.wait()
        await store.close()

    assert [e.seq for e in events] == list(range(1, 201))
    assert sum(e.data["by"] == "child" for e in events) == 100


async def test_a_cancelled_append_leaves_no_transaction_open(sqlite_path: Path) -> None:
    store = await open_sqlite_store(sqlite_path)
    other = await open_sqlite_store(sqlite_path, busy_timeout=0.5)
    try:
        for n in range(20):
            append = asyncio.create_task(store.events.append("t1", f"cancelled-{n}", "test", {}))
            await asyncio.sleep(0.0002 * n)  # cancel at a different statement each time
            append.cancel()
            with suppress(asyncio.CancelledError):
                await append
            assert await store.events.append("t1", f"store-{n}", "test", {}) is not None
            # An open transaction left behind would hold the write lock: this would time out.
            assert await other.events.append("t1", f"other-{n}", "test", {}) is not None
        events = await store.events.read("t1")
    finally:
        await store.close()
        await other.close()

    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert len(events) >= 40


async def test_schema_version_is_recorded(sqlite_path: Path) -> None:
    store = await open_sqlite_store(sqlite_path)
    await store.close()

    with sqlite3.connect(sqlite_path) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (1,)
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)


# --- open_store ------------------------------------------------------------------------------


async def test_open_sqlite_url_absolute_and_relative(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    absolute = tmp_path / "abs" / "events.db"
    store = await open_store(f"sqlite:///{absolute}", poll_interval=0.5)
    assert store.kind == "sqlite"
    assert store.where == str(absolute) and store.events.poll_interval == 0.5
    await store.close()
    assert absolute.exists()

    monkeypatch.chdir(tmp_path)
    store = await open_store("sqlite:///rel/events.db")
    assert store.kind == "sqlite"
    assert store.where == str(Path("rel/events.db"))
    await store.close()
    assert (tmp_path / "rel" / "events.db").exists()


async def test_open_memory_url() -> None:
    store = await open_store("memory://")
    assert store.kind == "memory"


@pytest.mark.parametrize(
    "url",
    [
        "mysql://user:secret@db/events",
        "sqlite://",
        "sqlite:///:memory:",
        "sqlite://host/events.db",
        "events.db",
    ],
)
async def test_open_rejects_other_urls(url: str) -> None:
    with pytest.raises(ConfigError, match=r"^events\.url: ") as caught:
        await open_store(url)
    assert "secret" not in str(caught.value)
