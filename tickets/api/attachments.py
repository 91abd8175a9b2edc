"""Files on tickets and changes (API.md, "Attachments and e-mail"):
`/tickets/{id}/attachments/` and `/changes/{id}/attachments/` (GET, multipart POST),
`/attachments/{id}/` (GET, DELETE) and `/attachments/{id}/download/` (the bytes).

These views alone take multipart bodies; the rest of the API takes JSON only.
"""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import parsers, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from tickets import services
from tickets.downloads import attachment_response
from tickets.errors import NotVisible
from tickets.models import Attachment, User
from tickets.selectors import (
    access_attachment,
    access_change,
    access_ticket,
    attachments_visible_to,
)

from .errors import ErrorSerializer
from .fields import parse_id, parse_path_ref
from .pagination import Pagination


class AttachmentSerializer(serializers.ModelSerializer):
    uploaded_by: serializers.SlugRelatedField = serializers.SlugRelatedField(
        slug_field="username", read_only=True
    )
    url = serializers.SerializerMethodField(help_text="Downloads the file (same visibility).")

    class Meta:
        model = Attachment
        fields = [
            "id",
            "name",
            "size",
            "content_type",
            "uploaded_by",
            "created",
            "url",
            "ticket",
            "change",
            "comment",
            "internal",
        ]
        read_only_fields = fields

    def get_url(self, obj: Attachment) -> str:
        path = reverse("api-attachment-download", kwargs={"id": obj.pk})
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request is not None else path


class AttachmentPageSerializer(serializers.Serializer):
    """A page of files, as every list of the API answers."""

    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = AttachmentSerializer(many=True)


PAGE_PARAMETERS = [
    OpenApiParameter("page", int, OpenApiParameter.QUERY, required=False),
    OpenApiParameter("page_size", int, OpenApiParameter.QUERY, required=False),
]


class AttachmentUploadSerializer(serializers.Serializer):
    file = serializers.FileField(allow_empty_file=True, max_length=None)
    comment = serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1)
    # A multipart field is text: exactly "true" or "false".
    internal = serializers.ChoiceField(choices=["true", "false"], required=False, default="false")


ERRORS: dict[int | str, Any] = {
    code: OpenApiResponse(ErrorSerializer) for code in (400, 403, 404, 413)
}


class _Base(APIView):
    parser_classes = [parsers.MultiPartParser, parsers.FormParser]

    @property
    def me(self) -> User:
        return self.request.user  # type: ignore[return-value]


class _SubjectAttachments(_Base):
    """A ticket's or a change's files (a subclass names which)."""

    key_prefix = ""

    def _subject_pk(self, ref: str) -> int:
        pk = parse_path_ref(ref, self.key_prefix)
        if pk is None:
            raise NotVisible(f"No {self.noun} {ref}.")
        return pk

    @property
    def noun(self) -> str:
        return "ticket" if self.key_prefix == "SUP" else "change"

    def _list(self, request: Request, id: str) -> Response:
        pk = self._subject_pk(id)
        field = self.noun
        subject = (access_ticket if field == "ticket" else access_change)(self.me, pk)
        rows = (
            attachments_visible_to(self.me)
            .filter(**{field: subject})
            .select_related("uploaded_by")
            .order_by("created", "id")
        )
        paginator = Pagination()
        page = paginator.paginate_queryset(rows, request, view=self)
        data = AttachmentSerializer(page, many=True, context={"request": request}).data
        return paginator.get_paginated_response(data)

    def _create(self, request: Request, id: str) -> Response:
        pk = self._subject_pk(id)
        data = AttachmentUploadSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        given = data.validated_data
        on_ticket = self.noun == "ticket"
        attachment = services.attachment_add(
            by=self.me,
            file=given["file"],
            comment=given.get("comment"),
            internal=given.get("internal") == "true",
            ticket=pk if on_ticket else None,
            change=None if on_ticket else pk,
        )
        body = AttachmentSerializer(attachment, context={"request": request}).data
        return Response(body, status=status.HTTP_201_CREATED)


UPLOAD_DOC = (
    "Multipart: `file` (at most ATTACHMENTS_MAX_BYTES, 20 MB by default: larger is a 413), "
    "optional `comment` (a comment id of this ticket) and `internal` (provider staff only)."
)


class TicketAttachmentsView(_SubjectAttachments):
    key_prefix = "SUP"

    @extend_schema(
        operation_id="tickets_attachments_list",
        summary="A ticket's files",
        parameters=PAGE_PARAMETERS,
        responses={200: AttachmentPageSerializer, 400: ERRORS[400], 404: ERRORS[404]},
    )
    def get(self, request: Request, id: str) -> Response:
        return self._list(request, id)

    @extend_schema(
        operation_id="tickets_attachments_create",
        summary="Attach a file to a ticket",
        description=UPLOAD_DOC,
        request={"multipart/form-data": AttachmentUploadSerializer},
        responses={201: AttachmentSerializer, **ERRORS},
    )
    def post(self, request: Request, id: str) -> Response:
        return self._create(request, id)


class ChangeAttachmentsView(_SubjectAttachments):
    key_prefix = "CHG"

    @extend_schema(
        operation_id="changes_attachments_list",
        summary="A change's files",
        parameters=PAGE_PARAMETERS,
        responses={200: AttachmentPageSerializer, 400: ERRORS[400], 404: ERRORS[404]},
    )
    def get(self, request: Request, id: str) -> Response:
        return self._list(request, id)

    @extend_schema(
        operation_id="changes_attachments_create",
        summary="Attach a file to a change",
        description=UPLOAD_DOC,
        request={"multipart/form-data": AttachmentUploadSerializer},
        responses={201: AttachmentSerializer, **ERRORS},
    )
    def post(self, request: Request, id: str) -> Response:
        return self._create(request, id)


def _attachment(user: User, id: str) -> Attachment:
    pk = parse_id(id)
    if pk is None:
        raise NotVisible(f"No attachment {id}.")
    return access_attachment(user, pk)


class AttachmentView(_Base):
    @extend_schema(
        operation_id="attachments_retrieve",
        summary="A file's metadata",
        responses={200: AttachmentSerializer, 404: ERRORS[404]},
    )
    def get(self, request: Request, id: str) -> Response:
        obj = _attachment(self.me, id)
        return Response(AttachmentSerializer(obj, context={"request": request}).data)

    @extend_schema(
        operation_id="attachments_destroy",
        summary="Delete a file (its uploader, or provider staff)",
        responses={204: None, 403: ERRORS[403], 404: ERRORS[404]},
    )
    def delete(self, request: Request, id: str) -> Response:
        services.attachment_delete(attachment=_attachment(self.me, id).pk, by=self.me)
        return Response(status=status.HTTP_204_NO_CONTENT)


class AttachmentDownloadView(_Base):
    @extend_schema(
        operation_id="attachments_download",
        summary="The file itself",
        description="Served as a download (`Content-Disposition: attachment`) with "
        "`X-Content-Type-Options: nosniff`; PNG, JPEG, GIF and WebP images inline.",
        responses={
            (200, "application/octet-stream"): OpenApiResponse(description="The bytes."),
            404: ERRORS[404],
        },
    )
    def get(self, request: Request, id: str) -> Any:
        return attachment_response(_attachment(self.me, id))
