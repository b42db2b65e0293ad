"""Files the fakes serve and tests send: a PNG and a PDF, each what vendors' checks take for
one (by its first bytes).

Tests import them from here, never from `mcp_servers.py`: building that module's `MCPServer`
in a test process makes a later connection to a closed local port hang instead of being
refused (seen in tests/integration/test_approvals_api.py's fallback test)."""

from __future__ import annotations

__all__ = ["PDF", "PNG"]

# A 1x1 transparent PNG.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000100e221bc330000000049454e44ae426082"
)

# A one-page PDF (what vendors' checks take for one: it starts with `%PDF-`).
PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 72 72]>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)
