"""How the OpenAPI schema describes what every view shares: the error responses with the
`Error` body, and the path parameters (ids that also take a key, transition names)."""

from __future__ import annotations

from typing import Any

from drf_spectacular import openapi
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_parameter_type
from drf_spectacular.utils import OpenApiParameter
from rest_framework.permissions import AllowAny

from .errors import ErrorSerializer
from .fields import MAX_ID, ref_pattern

ERROR_DESCRIPTIONS = {
    "400": "Invalid or missing input; `fields` names each offending field.",
    "401": "No credentials, or bad ones.",
    "403": "Visible to this user, who may not do this (role, four-eyes rule, one approval "
    "per person).",
    "404": "Not found, or not visible to this user (another organisation's object is always "
    "404); or a page past the last.",
    "409": "Not possible in the object's current state (wrong status, a guard not met), or "
    "the object changed since it was read (If-Match).",
    "413": "The request body is larger than the server accepts.",
    "429": "Throttled: too many requests, or logging in is locked after failed attempts; "
    "`detail` says when to retry.",
}


def only_api_v1(endpoints: list[tuple[Any, ...]], **kwargs: Any) -> list[tuple[Any, ...]]:
    """The published schema is the integrators' API: /api/v1/ only."""
    return [e for e in endpoints if e[0].startswith("/api/v1/")]


class AutoSchema(openapi.AutoSchema):
    def _error_statuses(self) -> list[str]:
        # Any body may be too large, nested too deep or not JSON at all (changeprocess/guard.py).
        body = ["400", "413"] if self.method in ("POST", "PUT", "PATCH") else []
        declared = getattr(self.view, "error_statuses", None)
        if declared is not None:
            return sorted({*declared, *body})
        public = all(isinstance(p, AllowAny) for p in self.view.get_permissions())
        codes = ["429"]
        if not public:
            codes.append("401")
        if self.method == "GET":
            if self._is_list_view() or "{" in self.path:
                codes.append("404")
            if self._is_list_view() or self._get_filter_parameters():
                codes.append("400")
        elif public:
            codes += ["400", "401"]
        else:
            codes += ["400", "403", "404", "409"]
        return sorted({*codes, *body})

    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        responses = super()._get_response_bodies(direction)
        for code in self._error_statuses():
            if code not in responses:
                responses[code] = self._get_response_for_code(ErrorSerializer, code)
            responses[code]["description"] = ERROR_DESCRIPTIONS[code]
        return responses

    def _resolve_path_parameters(self, variables: list[str]) -> list[dict[str, Any]]:
        known = {}
        for name in variables:
            schema = self._path_schema(name)
            if schema is not None:
                known[name] = build_parameter_type(
                    name=name,
                    location=OpenApiParameter.PATH,
                    schema=schema,
                    description=schema.pop("description", ""),
                )
        others = super()._resolve_path_parameters([v for v in variables if v not in known])
        return [*known.values(), *others]

    def _path_schema(self, name: str) -> dict[str, Any] | None:
        if name == "id":
            prefix = getattr(self.view, "key_prefix", None)
            if prefix:
                return {
                    "type": "string",
                    "pattern": ref_pattern(prefix),
                    "description": f"The id (12) or the key ({prefix}-12).",
                }
            return {"type": "integer", "minimum": 1, "maximum": MAX_ID, "description": "The id."}
        if name in ("sid", "iid"):
            return {"type": "integer", "minimum": 1, "maximum": MAX_ID, "description": "The id."}
        if name == "name":
            names = [value for value, _label in getattr(self.view, "transition_choices", [])]
            return {
                "type": "string",
                "enum": names,
                "description": "The transition, as WORKFLOW.md names it.",
            }
        return None


class TokenScheme(OpenApiAuthenticationExtension):
    """`Authorization: Token <key>` in the schema (and Swagger UI's Authorize button)."""

    target_class = "tickets.api.authentication.TokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Token <key>`, the key from POST /api/v1/auth/token/.",
        }
