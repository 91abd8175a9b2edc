"""`?page=` and `?page_size=` (at most 200), answering `{"count", "next", "previous",
"results"}`. A page or page size that is not a positive number is a 400 naming it, not a
silent fallback; a page past the end is a 404.

`count` is exact up to COUNT_CAP; a list with more rows says COUNT_CAP, and its pages go on
for as long as `next` is given (docs/api.md). Counting a million tickets exactly took 83 ms
on every page (docs/benchmarks.md); counting up to the cap reads at most COUNT_CAP + 1 rows
of an index."""

from __future__ import annotations

from typing import Any

from rest_framework import pagination
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request

from ..pagination import COUNT_CAP, CappedPaginator
from .fields import parse_id

__all__ = ["COUNT_CAP", "MAX_PAGE_SIZE", "CappedPaginator", "Pagination"]

MAX_PAGE_SIZE = 200


def _positive(request: Request, name: str, maximum: int | None = None) -> int | None:
    raw = request.query_params.get(name)
    if raw is None:
        return None
    value = parse_id(raw) or 0
    if value < 1 or (maximum is not None and value > maximum):
        bound = f" from 1 to {maximum}" if maximum else " (1 or more)"
        raise ValidationError({name: [f"A whole number{bound}."]})
    return value


class Pagination(pagination.PageNumberPagination):
    django_paginator_class = CappedPaginator
    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE
    last_page_strings = ()
    invalid_page_message = "Page {page_number} does not exist: {message}."

    def get_page_size(self, request: Request) -> int:
        size = _positive(request, self.page_size_query_param, MAX_PAGE_SIZE)
        return size if size is not None else int(self.page_size or 50)

    def paginate_queryset(self, queryset: Any, request: Request, view: Any = None) -> Any:
        _positive(request, self.page_query_param)
        return super().paginate_queryset(queryset, request, view)

    def get_paginated_response(self, data: Any) -> Any:
        response = super().get_paginated_response(data)
        paginator = self.page.paginator  # type: ignore[union-attr]
        response.data["count"] = min(paginator.count, getattr(paginator, "cap", COUNT_CAP))
        return response

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return [
            {
                "name": self.page_query_param,
                "required": False,
                "in": "query",
                "description": "The page number, from 1.",
                "schema": {"type": "integer", "minimum": 1},
            },
            {
                "name": self.page_size_query_param,
                "required": False,
                "in": "query",
                "description": f"Results per page (default {self.page_size}, at most "
                f"{MAX_PAGE_SIZE}).",
                "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE},
            },
        ]

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "object",
            "required": ["count", "next", "previous", "results"],
            "properties": {
                "count": {
                    "type": "integer",
                    "example": 123,
                    "description": f"The number of results, exact up to {COUNT_CAP:,}; "
                    f"{COUNT_CAP} means at least that many (follow `next`).",
                },
                "next": {"type": "string", "nullable": True, "format": "uri"},
                "previous": {"type": "string", "nullable": True, "format": "uri"},
                "results": schema,
            },
        }
