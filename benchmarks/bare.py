"""The floor a page is compared with: the same middleware, one indexed query for 25
tickets (`ticket_updated`, an index scan with a limit), `json.dumps`, no template, no
session, no ORM objects."""

import json

from django.db import connection
from django.http import HttpRequest, HttpResponse


def bare_tickets(request: HttpRequest) -> HttpResponse:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, title, status, updated FROM tickets_ticket ORDER BY updated DESC LIMIT 25"
        )
        rows = [
            {"key": f"SUP-{pk}", "title": title, "status": status, "updated": updated.isoformat()}
            for pk, title, status, updated in cursor.fetchall()
        ]
    return HttpResponse(json.dumps({"results": rows}), content_type="application/json")
