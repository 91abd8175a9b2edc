"""`?page=` and `?page_size=` (at most 200), answering `{"count", "next", "previous",
"results"}`. A page or page size that is not a positive number is a 400 naming it, not a
silent fallback; a page past the end is a 404.

`count` is exact up to COUNT_CAP; a list with more rows says COUNT_CAP, and its pages go on
for as long as `next` is given (docs/api.md). Counting a million tickets exactly took 83 ms
on every page (docs/benchmarks.md); counting up to the cap reads at most COUNT_CAP + 1 rows
of an index."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from django.core.paginator import EmptyPage, Page, Paginator
from django.db.models import QuerySet
from rest_framework import pagination
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request

from .fields import parse_id

MAX_PAGE_SIZE = 200
COUNT_CAP = 10_000


class CappedPaginator(Paginator):
    """A Django paginator that counts at most `cap` + 1 rows. Below the cap it is Django's
    own; above it, `count` is `cap` + 1 (`capped` is true), any page number is valid, and a
    page knows whether another follows by reading one row more than it shows."""

    cap = COUNT_CAP

    @cached_property
    def count(self) -> int:
        rows = self.object_list
        if isinstance(rows, QuerySet):
            # SELECT count(*) FROM (SELECT id ... LIMIT cap + 1): the order is dropped,
            # annotations (a search's rank) are not computed.
            return rows.order_by().values("pk")[: self.cap + 1].count()
        return len(rows)

    @property
    def capped(self) -> bool:
        return self.count > self.cap

    def validate_number(self, number: Any) -> int:
        if not self.capped:
            return super().validate_number(number)
        try:
            n = int(number)
        except (TypeError, ValueError):
            return super().validate_number(number)  # raises PageNotAnInteger
        if n < 1:
            raise EmptyPage("That page number is less than 1")
        return n

    def page(self, number: Any) -> Page:
        number = self.validate_number(number)
        if not self.capped:
            return super().page(number)
        bottom = (number - 1) * self.per_page
        rows = list(self.object_list[bottom : bottom + self.per_page + 1])
        if not rows:
            raise EmptyPage("That page contains no results")
        return _OpenPage(rows[: self.per_page], number, self, more=len(rows) > self.per_page)


class _OpenPage(Page):
    """A page of a capped list: it knows whether another follows, not how many."""

    def __init__(self, rows: list[Any], number: int, paginator: Paginator, *, more: bool):
        super().__init__(rows, number, paginator)
        self.more = more

    def has_next(self) -> bool:
        return self.more

    def end_index(self) -> int:
        return (self.number - 1) * self.paginator.per_page + len(self.object_list)


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
