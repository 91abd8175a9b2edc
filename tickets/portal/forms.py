"""Forms of the customer portal. They check the shape of what was typed only; every
business rule is the services' (`tickets.services`), whose `DomainError.fields` are put
back on these forms by `web.add_domain_errors`."""

from __future__ import annotations

from typing import Any

from django import forms

from ..limits import NOTE_MAX, TEXT_MAX
from ..models import Priority, Resolution, ScenarioResult, TicketType
from ..web import BoundedDateTimeField

# An import of end-user contacts is a list of names and addresses: a megabyte is tens of
# thousands of rows, far beyond the row limit of `contacts_import_csv`.
CONTACTS_UPLOAD_MAX_BYTES = 1024 * 1024


class TicketForm(forms.Form):
    title = forms.CharField(
        max_length=200,
        label="Subject",
        help_text="One line that says what you need.",
    )
    type = forms.ChoiceField(
        choices=TicketType.choices,
        initial=TicketType.QUESTION,
        label="What is it about?",
    )
    priority = forms.ChoiceField(
        choices=Priority.choices, initial=Priority.NORMAL, label="How urgent is it?"
    )
    description = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 6}),
        max_length=TEXT_MAX,
        required=False,
        label="Details",
        help_text="What happened, what you expected, and how to see it.",
    )


class CommentForm(forms.Form):
    body = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}),
        max_length=TEXT_MAX,
        label="Your message",
        help_text="The support team sees it at once; it is part of the ticket's record.",
    )


class TransitionForm(forms.Form):
    """What any step may carry: a comment (required by some steps, as the domain says)
    and, to close a change, its resolution."""

    comment = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=TEXT_MAX,
        required=False,
        label="Comment",
    )
    resolution = forms.ChoiceField(
        choices=Resolution.choices,
        required=False,
        widget=forms.RadioSelect,
        label="How did it end?",
    )


class WindowForm(forms.Form):
    """A deployment window, typed in the user's own timezone (the middleware activates it)."""

    start = BoundedDateTimeField(
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        label="Starts",
    )
    end = BoundedDateTimeField(
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        label="Ends",
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("start"), data.get("end")
        if start and end and end <= start:
            self.add_error("end", "The window must end after it starts.")
        return data


class ScenarioResultForm(forms.Form):
    result = forms.ChoiceField(choices=ScenarioResult.choices, widget=forms.RadioSelect)
    note = forms.CharField(
        required=False,
        max_length=NOTE_MAX,
        label="Note",
        widget=forms.TextInput(attrs={"placeholder": "What you saw, especially if it failed"}),
    )


class ChecklistItemForm(forms.Form):
    state = forms.ChoiceField(
        choices=[
            ("done", "Done"),
            ("not_applicable", "Not applicable"),
            ("pending", "Not done yet"),
        ],
        widget=forms.RadioSelect,
    )
    reason = forms.CharField(
        required=False,
        max_length=NOTE_MAX,
        label="Why it does not apply",
    )


class ContactForm(forms.Form):
    name = forms.CharField(max_length=200, required=False, label="Name")
    email = forms.CharField(max_length=254, label="E-mail address")


class ContactImportForm(forms.Form):
    file = forms.FileField(
        label="CSV file",
        help_text="Two columns, name and email; a header row is optional. At most 1 MB.",
    )

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if upload.size > CONTACTS_UPLOAD_MAX_BYTES:
            raise forms.ValidationError(
                f"The file is {upload.size // 1024} KB; upload at most "
                f"{CONTACTS_UPLOAD_MAX_BYTES // 1024} KB at a time."
            )
        return upload


class AttachmentForm(forms.Form):
    file = forms.FileField(label="File", allow_empty_file=True)
