"""Contents kept apart from history (`payloads.py`): a message's parts as a model is sent
them, and bytes as blobs."""

from __future__ import annotations

import base64

from temporal_executor.llm.messages import Message, Part
from temporal_executor.payloads import get_bytes, input_key, put_bytes, resolve_parts
from temporal_executor.store.memory import memory_store
from tests.fakes.samples import PNG

ACCEPTS = frozenset({"image/png", "application/pdf"})


async def test_parts_are_sent_as_far_as_the_model_reads_them() -> None:
    store = memory_store()
    blobs = store.blobs
    await put_bytes(blobs, input_key("t", 0), PNG)
    await put_bytes(blobs, input_key("t", 1), "héllo\n".encode())
    await put_bytes(blobs, input_key("t", 2), b"GIF89a...")
    parts = [
        Part(type="image", media_type="image/png", name="a.png", blob=input_key("t", 0), size=67),
        Part(type="file", media_type="text/plain", name="notes.txt", blob=input_key("t", 1)),
        Part(type="image", media_type="image/gif", name="b.gif", blob=input_key("t", 2), size=9),
        Part(type="file", media_type="application/pdf", name="gone.pdf", blob="t/input/9"),
    ]
    plain = Message(role="user", content="no parts")
    messages, media = await resolve_parts(
        blobs, [plain, Message(role="user", content="look", parts=parts)], ACCEPTS, 4
    )
    assert messages[0] is plain
    sent = messages[1]
    assert [p.name for p in sent.parts] == ["a.png"]
    assert media == {input_key("t", 0): base64.b64encode(PNG).decode()}
    # A text file joins the text (capped); what the model cannot read, or what is gone, is named.
    assert sent.content == (
        "look\n\n[file notes.txt (text/plain)]\nhél\n[truncated: 3 of 7 bytes left out]\n\n"
        "[image b.gif (image/gif, 9 bytes): this model does not read image/gif]\n\n"
        "[file gone.pdf (application/pdf): its content is not available]"
    )
    assert await get_bytes(blobs, input_key("t", 0)) == PNG
    assert await get_bytes(blobs, "t/nothing") is None
    await store.close()
