"""API tokens (django-rest-knox): hashed at rest, with an expiry, several per user, each
revocable. `POST /api/v1/auth/token/` trades a username and password for one."""

from __future__ import annotations

import re
from typing import Any

from django.contrib.auth import authenticate, logout, user_logged_in
from drf_spectacular.utils import OpenApiParameter, extend_schema
from knox.models import AuthToken
from rest_framework import exceptions, permissions, serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from tickets import services

from .authentication import TokenAuthentication
from .fields import StrictCharField
from .pagination import Pagination
from .throttling import LoginThrottle

# knox keys: an optional prefix, then hexadecimal.
TOKEN_KEY_PATTERN = r"^[A-Za-z0-9_-]{1,25}$"  # noqa: S105 - a pattern, not a secret


class LoginSerializer(serializers.Serializer):
    username = StrictCharField(max_length=150)
    password = StrictCharField(max_length=4096, trim_whitespace=False)


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="Send as `Authorization: Token <token>`; shown once.")
    expiry = serializers.DateTimeField(allow_null=True, help_text="When the token stops working.")


class TokenInfoSerializer(serializers.Serializer):
    token_key = serializers.CharField(
        help_text="The token's first characters: enough to tell tokens apart, not to use one."
    )
    created = serializers.DateTimeField()
    expiry = serializers.DateTimeField(allow_null=True)
    current = serializers.BooleanField(help_text="Whether this request was made with it.")


class ObtainTokenView(APIView):
    # Not the session: a logged-in browser's cookie must not make this a CSRF-checked call.
    authentication_classes = [TokenAuthentication]
    permission_classes = [permissions.AllowAny]
    throttle_classes = [LoginThrottle]

    @extend_schema(
        operation_id="auth_token_create",
        tags=["auth"],
        request=LoginSerializer,
        responses={200: TokenSerializer},
        auth=[],
        summary="Trade a username and password for an API token",
    )
    def post(self, request: Request) -> Response:
        data = LoginSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = authenticate(
            request._request,
            username=data.validated_data["username"],
            password=data.validated_data["password"],
        )
        if user is None:
            raise exceptions.AuthenticationFailed(
                "Unable to log in with this username and password (or the account is inactive)."
            )
        instance, token = services.token_create(user=user)  # type: ignore[arg-type]
        user_logged_in.send(sender=type(user), request=request._request, user=user)
        return Response(TokenSerializer({"token": token, "expiry": instance.expiry}).data)


def _current_key(request: Request) -> str | None:
    return getattr(request.auth, "token_key", None)


class LogoutView(APIView):
    # 403: a browser session without its CSRF token.
    error_statuses = ["401", "403", "429"]

    @extend_schema(
        operation_id="auth_logout",
        tags=["auth"],
        request=None,
        responses={204: None},
        summary="Revoke the token this request is made with (or end the browser session)",
    )
    def post(self, request: Request) -> Response:
        if isinstance(request.auth, AuthToken):
            request.auth.delete()
        else:
            logout(request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TokenListView(GenericAPIView):
    pagination_class = Pagination
    filter_backends: list[Any] = []

    @extend_schema(
        operation_id="auth_tokens_list",
        tags=["auth"],
        responses={200: TokenInfoSerializer(many=True)},
        summary="Your API tokens",
    )
    def get(self, request: Request) -> Response:
        current = _current_key(request)
        # The tokens that still work: knox deleted the user's expired ones as any token
        # was presented, which the API's answer has always reflected.
        rows = services.tokens_of(request.user, live=True)  # type: ignore[arg-type]
        page = self.paginate_queryset(rows) or []
        items = [
            {
                "token_key": t.token_key,
                "created": t.created,
                "expiry": t.expiry,
                "current": t.token_key == current,
            }
            for t in page
        ]
        return self.get_paginated_response(TokenInfoSerializer(items, many=True).data)


class TokenDetailView(APIView):
    error_statuses = ["401", "403", "404", "429"]

    @extend_schema(
        operation_id="auth_tokens_destroy",
        tags=["auth"],
        parameters=[
            OpenApiParameter(
                "token_key",
                {"type": "string", "pattern": TOKEN_KEY_PATTERN},
                OpenApiParameter.PATH,
                description="The `token_key` of one of your tokens.",
            )
        ],
        responses={204: None},
        summary="Revoke one of your API tokens",
    )
    def delete(self, request: Request, token_key: str) -> Response:
        if not re.fullmatch(TOKEN_KEY_PATTERN, token_key):
            raise exceptions.NotFound(f"You have no token {token_key!r}.")
        services.token_revoke(user=request.user, token_key=token_key)  # type: ignore[arg-type]
        return Response(status=status.HTTP_204_NO_CONTENT)
