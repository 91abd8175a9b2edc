"""Attachments are written to a temporary MEDIA_ROOT of each test."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.support import isolated_cache  # noqa: F401 - a fixture

# A 1x1 transparent PNG: what a screenshot looks like to the sniffer.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
)
HTML = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"
SVG = (
    b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg">'
    b"<script>alert(document.domain)</script></svg>"
)


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Any, request: pytest.FixtureRequest) -> None:
    settings.MEDIA_ROOT = str(tmp_path / "media")
    request.getfixturevalue("isolated_cache")
