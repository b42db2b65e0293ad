"""Context compaction on a transcript (`llm/compaction.py`): what is due and up to where (the
overlap kept, a tool call never parted from its results, fewer messages kept when the turns
kept would not fit), what a call sends once a summary stands, and the summarizer's prompt."""

from __future__ import annotations

from temporal_executor.llm.compaction import (
    KAGENT_PROMPT,
    SUMMARY_HEADING,
    Cut,
    estimated_tokens,
    plan,
    sent,
    summary_request,
)
from temporal_executor.llm.messages import Message, Summary, ToolCall
from temporal_executor.spec import Compaction


def user(text: str) -> Message:
    return Message(role="user", content=text)


def assistant(text: str | None = None, *calls: str) -> Message:
    tool_calls = [ToolCall(id=f"c-{name}", name=name, arguments={"q": "x"}) for name in calls]
    return Message(role="assistant", content=text, tool_calls=tool_calls)


def tool(name: str, text: str) -> Message:
    return Message(role="tool", content=text, tool_call_id=f"c-{name}", name=name)


def turns(count: int, size: int = 40, start: int = 0) -> list[Message]:
    """`count` turns of a user message and an answer, each `size` characters."""
    out: list[Message] = []
    for n in range(start, start + count):
        out += [user(f"{n}".ljust(size, "u")), assistant(f"{n}".ljust(size, "a"))]
    return out


SYSTEM = Message(role="system", content="be brief")


def test_nothing_is_due_under_the_threshold_or_the_interval() -> None:
    messages = [SYSTEM, *turns(3)]
    assert plan(messages, Compaction(token_threshold=1000)) is None
    assert plan(messages, Compaction(interval=5, overlap=1)) is None


def test_over_the_threshold_the_turns_before_the_overlap_are_compacted() -> None:
    messages = [SYSTEM, *turns(10), user("now")]  # 20 x 40 chars: 200 tokens
    cut = plan(messages, Compaction(token_threshold=150, overlap=2))
    # The system message stays; the last two turns (the 10th and the current one) are kept.
    assert cut == Cut(first=1, end=19)
    assert messages[cut.end].role == "user"


def test_the_interval_compacts_once_that_many_turns_could_be_summarized() -> None:
    settings = Compaction(interval=3, overlap=2)
    assert plan([SYSTEM, *turns(4)], settings) is None  # 2 turns summarizable
    assert plan([SYSTEM, *turns(5)], settings) == Cut(first=1, end=7)


def test_a_cut_never_parts_a_tool_call_from_its_results() -> None:
    # One long turn of tool calls: no earlier turn to summarize, so it is cut inside.
    messages = [user("go")]
    for n in range(6):
        messages += [assistant(None, f"t{n}"), tool(f"t{n}", "r" * 200)]
    messages.append(assistant("done"))
    cut = plan(messages, Compaction(token_threshold=100, overlap=1))
    assert cut is not None
    kept = messages[cut.end :]
    assert kept[0].role == "assistant"
    called = {c.id for m in kept for c in m.tool_calls}
    assert all(m.tool_call_id in called for m in kept if m.role == "tool")
    assert estimated_tokens(kept) <= 50  # as few kept as it takes: under half the threshold


def test_what_is_sent_is_the_summary_then_what_it_does_not_cover() -> None:
    messages = [SYSTEM, *turns(3)]
    summary = Message(role="user", content="FACT a=1", summary=Summary(first=1, end=5, model="m"))
    messages += [summary, user("next")]
    view = sent(messages)
    assert [m.content for m in view] == [
        "be brief",
        SUMMARY_HEADING + "FACT a=1",
        messages[5].content,  # the third turn, kept as the overlap
        messages[6].content,
        "next",
    ]
    # Dropped (no summarizer): nothing stands in for the messages before the cut.
    dropped = summary.model_copy(update={"content": None})
    assert [m.content for m in sent([*messages[:7], dropped, user("next")])] == [
        "be brief",
        messages[5].content,
        messages[6].content,
        "next",
    ]


def test_a_later_summary_supersedes_the_earlier_and_covers_from_where_it_ended() -> None:
    first = Message(role="user", content="FACT a=1", summary=Summary(first=0, end=4, model="m"))
    messages = [*turns(3), first, *turns(4, start=3)]  # the earlier summary sits between turns
    cut = plan(messages, Compaction(token_threshold=100, overlap=1))
    assert cut is not None and cut.first == 4  # from the earlier summary's end on
    request = summary_request(messages, cut, None)
    text = request.content or ""
    assert text.startswith(KAGENT_PROMPT.split("{")[0])
    assert "Summary of the earlier conversation: FACT a=1" in text
    assert "user: 2uuu" in text and "user: 1uuu" not in text  # the covered turns are not
    assert "'kagent__default__agent_name'" in text  # kagent's warning on tool names


def test_the_summarizer_reads_tool_calls_and_results_clipped() -> None:
    messages = [user("go"), assistant(None, "lookup"), tool("lookup", "x" * 2500), user("then")]
    request = summary_request(messages, Cut(0, 3), "[summarize] {conversation_history}")
    lines = (request.content or "").splitlines()
    assert lines[0] == "[summarize] user: go"
    assert lines[1] == 'assistant called tool: lookup({"q": "x"})'
    assert lines[2].startswith("Tool response from lookup: xxx")
    assert lines[2].endswith("… [truncated 500 chars]")
