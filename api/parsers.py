"""Request bodies the API reads."""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


class BoundedJSONParser(JSONParser):
    """DRF's JSON parser, with a 400 rather than a 500 for JSON nested past Python's stack.

    json.loads recurses once per level: some 50,000 nested "[" raise
    RecursionError, which is no ValueError and so escaped DRF's own handling.
    """

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - the document is nested too deeply.") from None
