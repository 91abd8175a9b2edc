"""The stored text-search document of tickets and changes (issue 13).

Each model keeps a generated column (`search_document`) that PostgreSQL computes from the
searched fields on every write, with a GIN index created by migration 0004 (on PostgreSQL
only: `make run` uses SQLite, where the column is the plain text and search falls back to
`icontains`). `tickets.selectors.tickets_matching` / `changes_matching` are its readers.

Stored rather than an expression index: a common word ("invoice" is in 42% of the seeded
tickets) is searched fastest by walking `-updated` and testing each row, which must then
be a comparison with a stored value, not `to_tsvector` computed per row (about 14 µs each).
"""

from __future__ import annotations

import operator
from functools import reduce
from typing import Any

from django.contrib.postgres.search import SearchVector, SearchVectorField
from django.db import models
from django.db.models import Func, Value
from django.db.models.functions import Coalesce

SEARCH_CONFIG = "english"


class SearchDocument(Func):
    """The text of the given fields as a `tsvector`, the first field weighted A, the next
    B (so a word of the title ranks above one of the description). On other databases than
    PostgreSQL, the fields' text joined by spaces (nothing searches it there)."""

    output_field = SearchVectorField()

    def __init__(self, *expressions: Any, config: str = SEARCH_CONFIG) -> None:
        super().__init__(*expressions)
        self.config = config

    def as_sql(self, compiler: Any, connection: Any, **extra: Any) -> Any:  # type: ignore[override]
        parts = [compiler.compile(Coalesce(e, Value(""))) for e in self.get_source_expressions()]
        return " || ' ' || ".join(sql for sql, _ in parts), tuple(p for _, ps in parts for p in ps)

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        vectors = [
            SearchVector(e, config=self.config, weight=weight)
            for e, weight in zip(self.get_source_expressions(), "ABCD", strict=False)
        ]
        return compiler.compile(reduce(operator.add, vectors))


class SearchableManager(models.Manager):
    """The default manager of a model with a `search_document`: reads leave that column
    out (a tsvector of all its text, sent and parsed per row for nothing); the search
    filters on it all the same."""

    def get_queryset(self) -> models.QuerySet:
        return super().get_queryset().defer("search_document")
