"""The API's JSON parser: the body `changeprocess.guard` already parsed and checked (depth,
NUL characters, unpaired surrogates), or the same check when a request did not pass
through the middleware (a test's request factory)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_framework import exceptions, parsers

from changeprocess.guard import PARSED_JSON_ATTRIBUTE, InputRefused, load_json

_MISSING = object()


class JSONParser(parsers.JSONParser):
    def parse(
        self,
        stream: Any,
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        context = parser_context or {}
        django_request = getattr(context.get("request"), "_request", None)
        parsed = getattr(django_request, PARSED_JSON_ATTRIBUTE, _MISSING)
        if parsed is not _MISSING:
            return parsed
        encoding = context.get("encoding") or "utf-8"
        try:
            return load_json(stream.read(), encoding=encoding)
        except InputRefused as refused:
            if refused.fields and refused.code == "invalid":
                raise exceptions.ValidationError(refused.fields) from refused
            raise exceptions.ParseError(refused.detail) from refused
