"""What reaches the application from outside, checked once for every front end.

`InputGuardMiddleware` is the one place where characters no person can have meant are
refused: a NUL character (PostgreSQL text cannot hold one) and an unpaired UTF-16
surrogate (not a character at all: it cannot be encoded to send to the database, or to
write into a page). It looks at everything a request carries as text: the path, every
query parameter and form field (names and values), the names of uploaded files, and every
string (keys included) of a JSON body. What counts as such a character is
`tickets.limits.text_problem`'s to say. It refuses rather than cleans: silently dropping
part of what someone typed would store something they did not write.

It also parses JSON bodies, once, with a bound on their nesting (`MAX_JSON_DEPTH`): the
API's parser (`tickets.api.parsers`) takes the result from here, so a thousand nested `[`
is a 400 and never a RecursionError. Bodies over Django's size limits are answered here
too (413 / 400), before any view reads them.

Refusals are JSON `{"detail", "code", "fields"?}` under /api/ (the API's error shape,
tickets/api/errors.py) and a plain page elsewhere. The same goes for the errors Django
itself answers (`bad_request`, `permission_denied`, `server_error`, mounted as handlers
in changeprocess/urls.py) and for the login lockout (`lockout_response`, production).

Text *lengths* are the forms' and serializers' to cap, from `tickets.limits`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from django.conf import settings
from django.core.exceptions import (
    RequestDataTooBig,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.template.loader import render_to_string

from tickets.limits import text_problem, without_forbidden

# Deeper than any body the API takes (three levels at most) by a wide margin; far below
# what Python's recursion limit allows.
MAX_JSON_DEPTH = 32

# Where the middleware leaves a parsed JSON body for the API's parser.
PARSED_JSON_ATTRIBUTE = "_guarded_json"


class InputRefused(Exception):
    def __init__(
        self,
        detail: str,
        *,
        status: int = 400,
        code: str = "invalid",
        fields: dict[str, list[str]] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.status = status
        self.code = code
        self.fields = fields


def _problem(value: str) -> str | None:
    found = text_problem(value)
    if found is None:
        return None
    return f"Contains {found}, which no text here may hold."


def _refused_fields(found: dict[str, list[str]]) -> InputRefused:
    summary = "; ".join(f"{name}: {' '.join(messages)}" for name, messages in found.items())
    return InputRefused(f"Invalid input. {summary}", fields=found)


# --------------------------------------------------------------------------- JSON


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def load_json(raw: bytes, *, encoding: str = "utf-8") -> Any:
    """A JSON body as Python data, refused (InputRefused) when it is not JSON, nests deeper
    than MAX_JSON_DEPTH, or holds a string `text_problem` refuses."""
    try:
        text = raw.decode(encoding)
    except (UnicodeDecodeError, LookupError) as exc:
        raise InputRefused(
            f"JSON parse error - the body is not {encoding} text.", code="parse_error"
        ) from exc
    try:
        data = json.loads(text, parse_constant=_reject_constant)
    except RecursionError as exc:
        raise _too_deep() from exc
    except ValueError as exc:
        raise InputRefused(f"JSON parse error - {exc}", code="parse_error") from exc
    found: dict[str, list[str]] = {}
    # Iteratively, so that walking a deep document cannot exhaust the stack either.
    stack: list[tuple[Any, str, int]] = [(data, "", 0)]
    while stack:
        value, path, depth = stack.pop()
        if isinstance(value, dict | list):
            if depth >= MAX_JSON_DEPTH:
                raise _too_deep()
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                name = f"{path}.{key}" if path else str(key)
                if isinstance(key, str) and (problem := _problem(key)):
                    found.setdefault(_printable(name), []).append("Its name: " + problem)
                stack.append((item, name, depth + 1))
        elif isinstance(value, str) and (problem := _problem(value)):
            found.setdefault(_printable(path or "body"), []).append(problem)
    if found:
        raise _refused_fields(found)
    return data


def _too_deep() -> InputRefused:
    return InputRefused(
        f"JSON parse error - the body is nested more than {MAX_JSON_DEPTH} levels deep.",
        code="parse_error",
        fields={"body": [f"Nested more than {MAX_JSON_DEPTH} levels deep."]},
    )


def _printable(name: str) -> str:
    # A field's name goes back in the answer: without the characters refused in it.
    return without_forbidden(name)


def _is_json(request: HttpRequest) -> bool:
    media = (request.content_type or "").lower()
    return media == "application/json" or media.endswith("+json")


# --------------------------------------------------------------------------- requests


def _streamed_upload(request: HttpRequest) -> bool:
    """A multipart body larger than Django keeps in memory: file uploads (attachments),
    which Django streams to temporary files and the views that take them limit
    (ATTACHMENTS_MAX_BYTES); read whole, it would be refused as too large."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return False
    return (
        (request.content_type or "").lower() == "multipart/form-data"
        and limit is not None
        and length > limit
    )


def _named_texts(request: HttpRequest) -> Iterator[tuple[str, str]]:
    """(where, text) for every piece of text a request carries besides a JSON body."""
    yield "path", request.path
    for name, values in request.GET.lists():
        yield f"{name} (query)", name
        for value in values:
            yield name, value
    if request.method in ("POST", "PUT", "PATCH") and not _is_json(request):
        if is_api(request) and not _streamed_upload(request):
            # Keep the body for DRF, which reads it again to answer 415 for a media type
            # the view does not take (a parsed multipart stream cannot be read twice).
            _ = request.body
        # Reads and parses form bodies; CsrfViewMiddleware would do so a moment later.
        for name, values in request.POST.lists():
            yield name, name
            for value in values:
                yield name, value
        for name, files in request.FILES.lists():
            yield name, name
            for upload in files:
                yield name, upload.name or ""


def inspect(request: HttpRequest) -> None:
    """Raise InputRefused for anything in `request` the application must not take."""
    try:
        found: dict[str, list[str]] = {}
        for name, text in _named_texts(request):
            if problem := _problem(text):
                found.setdefault(_printable(name), []).append(problem)
        if found:
            raise _refused_fields(found)
        if _is_json(request) and request.method not in ("GET", "HEAD", "OPTIONS"):
            body = request.body
            if body:
                params = request.content_params or {}
                encoding = request.encoding or params.get("charset") or "utf-8"
                setattr(request, PARSED_JSON_ATTRIBUTE, load_json(body, encoding=encoding))
    except RequestDataTooBig as exc:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        raise InputRefused(
            f"The request body is larger than the {limit // 1024} KB this server accepts "
            "(files upload separately, as multipart).",
            status=413,
            code="too_large",
        ) from exc
    except (TooManyFieldsSent, TooManyFilesSent) as exc:
        raise InputRefused(f"{exc}.", code="too_many_fields") from exc
    except MultiPartParserError as exc:
        raise InputRefused(f"The form data could not be read: {exc}.", code="parse_error") from exc


class InputGuardMiddleware:
    """Refuses a request `inspect` refuses, before any view (or CSRF check) reads it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            inspect(request)
        except InputRefused as refused:
            return refusal(request, refused)
        return self.get_response(request)


# --------------------------------------------------------------------------- answers


TITLES = {
    400: "This request was refused",
    403: "Not allowed",
    413: "Too large",
    429: "Too many attempts",
    500: "Something went wrong",
}


def is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def refusal(request: HttpRequest, refused: InputRefused) -> HttpResponse:
    """The answer to a refused request: the API's error body under /api/, a page
    elsewhere."""
    if is_api(request):
        body: dict[str, Any] = {"detail": refused.detail, "code": refused.code}
        if refused.status == 400:
            body["fields"] = refused.fields or {"body": [refused.detail]}
        return JsonResponse(body, status=refused.status)
    html = render_to_string(
        "refused.html",
        {"title": TITLES.get(refused.status, TITLES[400]), "detail": refused.detail},
    )
    return HttpResponse(html, status=refused.status)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """handler400: what Django refuses itself (a bad Host header, a broken form body)."""
    return refusal(
        request, InputRefused("The request could not be understood.", code="bad_request")
    )


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    """handler403 (a CSRF refusal has its own view)."""
    return refusal(
        request,
        InputRefused(
            str(exception) or "You may not do this.", status=403, code="permission_denied"
        ),
    )


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: JSON under /api/; elsewhere the standalone 500 page."""
    if is_api(request):
        return JsonResponse(
            {"detail": "The server could not finish this request.", "code": "server_error"},
            status=500,
        )
    return HttpResponse(render_to_string("500.html"), status=500)


# --------------------------------------------------------------------------- clients


def client_address(request: HttpRequest) -> str:
    """The address a request came from, for throttling and the login lockout.

    REMOTE_ADDR, unless the deployment says how many proxies it runs in front of the app
    (TRUSTED_PROXY_COUNT, docs/deploy.md): each of them appends the address it received
    the request from to X-Forwarded-For, so the n-th entry from the right is the one the
    first trusted proxy saw. Entries left of that are whatever the client chose to send,
    and are never used; with fewer entries than proxies, something bypassed a proxy and
    REMOTE_ADDR is all that can be trusted."""
    count = int(getattr(settings, "TRUSTED_PROXY_COUNT", 0) or 0)
    remote = str(request.META.get("REMOTE_ADDR") or "")
    if count <= 0:
        return remote
    header = str(request.META.get("HTTP_X_FORWARDED_FOR") or "")
    forwarded = [part.strip() for part in header.split(",") if part.strip()]
    if len(forwarded) < count:
        return remote
    return forwarded[-count]


def lockout_response(
    request: HttpRequest,
    original_response: HttpResponse | None = None,
    credentials: dict[str, Any] | None = None,
) -> HttpResponse:
    """django-axes' answer to a locked-out login (AXES_LOCKOUT_CALLABLE): a 429 in the
    API's error shape under /api/, a page elsewhere; Retry-After either way."""
    cool_off = getattr(settings, "AXES_COOLOFF_TIME", None)
    seconds = int(cool_off.total_seconds()) if cool_off is not None else 0
    after = f" Try again in {max(1, seconds // 60)} minutes." if seconds else ""
    response = refusal(
        request,
        InputRefused(
            "Too many failed logins for this username from this address; logging in is "
            f"locked.{after} An administrator can lift the lockout.",
            status=429,
            code="locked_out",
        ),
    )
    if seconds:
        response["Retry-After"] = str(seconds)
    return response
