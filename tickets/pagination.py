"""A paginator for lists that may hold a million rows, shared by the HTML lists
(`web.paginate`) and the API (`api.pagination.Pagination`).

Counting a million tickets exactly took 83 ms on every page (docs/benchmarks.md); counting
up to COUNT_CAP reads at most COUNT_CAP + 1 rows of an index. A longer list says "more than
COUNT_CAP", and its pages go on for as long as there is a next one."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.core.paginator import EmptyPage, Page, Paginator
from django.db import connections
from django.db.models import Count, QuerySet, Window
from django.db.models.query import ModelIterable

COUNT_CAP = 10_000
MAX_OFFSET = 2**63 - 1
# The counts of a dashboard panel or a board column: a badge, "99+" past it, so that a
# count reads at most 100 rows of an index whatever the table holds (a panel's count of
# 1,000 read 15,000 rows of tickets at 100,000).
PANEL_COUNT_CAP = 99
# A queryset annotated with this (`rows_total()`, a count over the whole answer) carries
# its count on every row: its paginator reads a page first and takes the count from it,
# where it would otherwise count in a query of its own (a ranked search's candidates
# were found twice, once for the count and once for the page).
ROWS_TOTAL = "rows_total"


def rows_total() -> Window:
    """The window count to annotate as ROWS_TOTAL: every row of the answer counted, before
    LIMIT and OFFSET."""
    return Window(Count("*"))


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
            return capped_count(rows, self.cap)
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
        if (n - 1) * self.per_page > MAX_OFFSET:  # PostgreSQL's OFFSET is a bigint
            raise EmptyPage("That page contains no results")
        return n

    def get_page(self, number: Any) -> Page:
        """Django's `get_page` (the first page for a number that is not one, the last for
        one past the end), reading a ROWS_TOTAL list's page and count in one query."""
        try:
            int(number)
        except (TypeError, ValueError):
            number = 1  # as Django's: no page (None), or not a number, is the first
        first = self._page_counting(number)
        return first if first is not None else super().get_page(number)

    def page(self, number: Any) -> Page:
        first = self._page_counting(number)
        if first is not None:
            return first
        number = self.validate_number(number)
        if not self.capped:
            return super().page(number)
        bottom = (number - 1) * self.per_page
        rows = list(self.object_list[bottom : bottom + self.per_page + 1])
        if not rows:
            raise EmptyPage("That page contains no results")
        return _OpenPage(rows[: self.per_page], number, self, more=len(rows) > self.per_page)

    def _page_counting(self, number: Any) -> Page | None:
        """The page `number` of a list annotated with ROWS_TOTAL, and its count, in one
        query; None when that cannot answer (not annotated, counted already, a number
        that is not a whole one from 1, a page past the end, a list past the cap), for
        `page` to answer and refuse the usual way."""
        rows = self.object_list
        if (
            not isinstance(rows, QuerySet)
            or rows._iterable_class is not ModelIterable  # rows, not values()
            or ROWS_TOTAL not in rows.query.annotation_select
            or "count" in self.__dict__
            or self.orphans
            or not isinstance(number, int | str)
            or not (str(number).isascii() and str(number).isdecimal())
            or len(str(number)) > 18  # int() of a longer text may refuse it
            or not 1 <= int(number) <= self.cap // self.per_page + 1
        ):
            return None
        number = int(number)
        bottom = (number - 1) * self.per_page
        found = list(rows[bottom : bottom + self.per_page])
        if not found:
            return None
        self.__dict__["count"] = getattr(found[0], ROWS_TOTAL)
        if self.capped:
            return None
        return Page(found, self.validate_number(number), self)


class _OpenPage(Page):
    """A page of a capped list: it knows whether another follows, not how many."""

    def __init__(self, rows: list[Any], number: int, paginator: Paginator, *, more: bool):
        super().__init__(rows, number, paginator)
        self.more = more

    def has_next(self) -> bool:
        return self.more

    def end_index(self) -> int:
        return (self.number - 1) * self.paginator.per_page + len(self.object_list)


def capped_count(qs: QuerySet, cap: int | None = None) -> int:
    """How many rows `qs` has, counting at most `cap` (COUNT_CAP) + 1 of them (more than
    `cap` when the answer is `cap` + 1)."""
    cap = COUNT_CAP if cap is None else cap
    return qs.order_by().values("pk")[: cap + 1].count()


def capped_counts(parts: dict[Any, QuerySet], cap: int | None = None) -> dict[Any, int]:
    """`capped_count` of each queryset in `parts`, in one query (a UNION ALL of the
    capped counts), keyed like `parts`. A board's columns count this way: each column
    reads at most `cap` + 1 rows of its index rather than the whole table grouped."""
    if not parts:
        return {}
    cap = COUNT_CAP if cap is None else cap
    keys = list(parts)
    db = next(iter(parts.values())).db
    sqls, params = [], []
    counts = dict.fromkeys(keys, 0)
    for i, key in enumerate(keys):
        inner = parts[key].order_by().values("pk")[: cap + 1]
        try:
            sql, p = inner.query.get_compiler(db).as_sql()
        except EmptyResultSet:
            continue  # a filter that matches nothing (`pk__in=[]`): the ORM writes no SQL
        # The ORM's own SQL, its values passed as parameters; only indexes are added.
        sqls.append(f"SELECT {i} AS k, COUNT(*) AS n FROM ({sql}) AS part_{i}")  # noqa: S608
        params.extend(p)
    if not sqls:
        return counts
    with connections[db].cursor() as cursor:
        cursor.execute(" UNION ALL ".join(sqls), params)
        counts.update({keys[k]: n for k, n in cursor.fetchall()})
    return counts
