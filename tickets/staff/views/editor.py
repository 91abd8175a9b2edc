"""The change editor: the nine sections on one form, saved through the services."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.db.models import Prefetch
from django.http import HttpResponse, QueryDict
from django.shortcuts import redirect

from ... import services, web
from ...errors import DomainError
from ...models import (
    SECTIONS,
    Change,
    ChecklistState,
    ComponentVersion,
    ScenarioKind,
    Ticket,
    User,
)
from ...scheduling import conflicts_of_one
from ...selectors import (
    components_visible_to,
    tickets_attachable_to,
    tickets_visible_to,
)
from ..forms import (
    ChangeSectionsForm,
    ChecklistForm,
    ComponentsForm,
    ScenarioFormSet,
)
from .changes import _change, calendar_link
from .common import StaffRequest, staff_view


class Editor:
    """The forms of the change editor, bound together: what was typed stays when any of
    them is refused."""

    def __init__(self, user: User, change: Change, data: QueryDict | None = None) -> None:
        self.change = change
        self.sections = ChangeSectionsForm(data, initial=ChangeSectionsForm.initial_for(change))
        components = (
            components_visible_to(user)
            .filter(organization_id=change.organization_id)
            .prefetch_related(
                Prefetch(
                    "versions", queryset=ComponentVersion.objects.select_related("environment")
                )
            )
            .order_by("name")
        )
        self.components = ComponentsForm(
            data,
            components=components,
            current={cc.component_id: cc.target_version for cc in change.change_components.all()},
        )
        scenarios = list(change.scenarios.all())
        self.scenarios = ScenarioFormSet(
            data,
            prefix="scenarios",
            initial=[{"id": s.pk, "kind": s.kind, "description": s.description} for s in scenarios],
        )
        if not scenarios and data is None:
            # A change needs a progression and a regression scenario: offer one of each.
            self.scenarios.extra = 2
            self.scenarios.forms[1].fields["kind"].initial = ScenarioKind.REGRESSION
        self.checklist = ChecklistForm(data, items=change.checklist.all())
        self.data = data
        self.scenario_errors: list[str] = []

    def forms(self) -> list[Any]:
        return [self.sections, self.components, self.scenarios, self.checklist]

    def is_valid(self) -> bool:
        # Every form is validated (no short cut), so all their errors show at once.
        results = [f.is_valid() for f in self.forms()]
        return all(results)

    def save(self, user: User) -> None:
        """The whole form through the one service that saves several sections at once: the
        change is judged by where the save ends, and all of it is kept or none."""
        scenarios = []
        for form in self.scenarios.forms:
            sid = form.cleaned_data.get("id")
            if not form.has_changed() and not sid:
                continue
            remove = bool(self.scenarios.can_delete and form.cleaned_data.get("DELETE"))
            if not sid and (remove or not form.cleaned_data.get("description")):
                continue
            scenarios.append(
                services.ScenarioEdit(
                    id=sid,
                    kind=form.cleaned_data.get("kind", ""),
                    description=form.cleaned_data.get("description", ""),
                    remove=remove,
                )
            )
        services.change_edit(
            change=self.change.pk,
            by=user,
            sections=self.sections.section_data(self.change),
            components=self.components.chosen(),
            tickets=self.sections.ticket_ids(),
            scenarios=scenarios,
            checklist=[
                (i.pk, state, reason) for i, state, reason in self.checklist.changed_items()
            ],
        )

    def refuse(self, exc: DomainError) -> None:
        """Put a refusal on the form that holds the field it names."""
        fields = set(exc.fields)
        if fields & {"components"}:
            self.components.add_error(None, exc.message)
        elif fields & {"kind", "description"}:
            self.scenario_errors.append(exc.message)
        elif fields & {"state", "reason"}:
            self.checklist.add_error(None, exc.message)
        else:
            web.add_domain_errors(self.sections, exc)

    def errors(self) -> list[tuple[str, str]]:
        """(anchor, message) for the error summary at the top of the page."""
        out: list[tuple[str, str]] = []
        anchors = {
            "title": "section-1",
            "summary": "section-1",
            "environment": "section-1",
            "performer": "section-1",
            "outage_expected": "section-3",
            "outage_duration_minutes": "section-3",
            "impact": "section-3",
            "communication_audience": "section-3",
            "communication_message": "section-3",
            "communication_timing": "section-3",
            "tickets": "section-4",
            "changelog": "section-5",
            "deployment_procedure": "section-6",
            "rollback_procedure": "section-7",
        }
        for name, errs in self.sections.errors.items():
            label = self.sections.fields[name].label if name in self.sections.fields else ""
            for e in errs:
                out.append((anchors.get(name, "sections"), f"{label}: {e}" if label else str(e)))
        for errs in self.components.errors.values():
            out += [("section-2", str(e)) for e in errs]
        for i, f in enumerate(self.scenarios.forms, start=1):
            for errs in f.errors.values():
                out += [("section-8", f"Scenario {i}: {e}") for e in errs]
        out += [("section-8", str(e)) for e in self.scenarios.non_form_errors()]
        out += [("section-8", e) for e in self.scenario_errors]
        for errs in self.checklist.errors.values():
            out += [("section-9", str(e)) for e in errs]
        return out

    def tickets(
        self, user: User, search: str = ""
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Section 4: the attached tickets (ticked unless unticked in the form), then the
        candidates: those ticked in the form, then the search's results."""
        attached = list(self.change.tickets.all())
        if self.data is not None:
            ticked = {int(v) for v in self.data.getlist("tickets") if v.isdigit()}
        else:
            ticked = {t.pk for t in attached}
        return _ticket_rows(user, self.change, attached, ticked, search)


def _ticket_rows(
    user: User, change: Change, attached: list[Ticket], ticked: set[int], search: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    attached_rows = [{"ticket": t, "checked": t.pk in ticked} for t in attached]
    shown = {t.pk for t in attached}
    extra = sorted(ticked - shown)
    candidates = list(tickets_visible_to(user).filter(pk__in=extra)) if extra else []
    shown |= {t.pk for t in candidates}
    candidates += [t for t in tickets_attachable_to(user, change, search)[:20] if t.pk not in shown]
    candidate_rows = [{"ticket": t, "checked": t.pk in ticked} for t in candidates]
    return attached_rows, candidate_rows


@staff_view
def change_edit(request: StaffRequest, ref: str) -> HttpResponse:
    user = request.user
    change = _change(user, ref)
    if not change.is_editable:
        messages.info(
            request,
            f"{change.key} is {change.get_status_display()}: its sections can no longer be edited.",
        )
        return redirect("staff:change_detail", ref=change.key)
    status = 200
    search = ""
    if request.method == "POST":
        editor = Editor(user, change, request.POST)
        search = request.POST.get("ticket_search", "")
        if "find_tickets" in request.POST:
            # Without JavaScript the ticket search is a submit: show the results and keep
            # everything typed, without saving.
            pass
        elif editor.is_valid():
            try:
                editor.save(user)
            except DomainError as exc:
                editor.refuse(exc)
                status = exc.http_status
            else:
                change.refresh_from_db()
                messages.success(request, f"{change.key} saved.")
                if "save_and_view" in request.POST:
                    return redirect("staff:change_detail", ref=change.key)
                return redirect("staff:change_edit", ref=change.key)
        else:
            status = 400
    else:
        editor = Editor(user, change)
    ticket_rows, candidate_rows = editor.tickets(user, search)
    submit = next((o for o in services.transitions_for(change, user) if o.name == "submit"), None)
    context = {
        "nav": "changes",
        "change": change,
        "editor": editor,
        "sections": SECTIONS,
        "incomplete": {n: problem for n, _, problem in change.incomplete_sections()},
        "errors": editor.errors() if request.method == "POST" else [],
        "checklist_pending": sum(
            1 for i in change.checklist.all() if i.state == ChecklistState.PENDING
        ),
        "ticket_rows": ticket_rows,
        "candidate_rows": candidate_rows,
        "ticket_search": search,
        "submit_option": submit,
        "approvals_given": change.edits_dismiss_approvals(),
        "conflicts": conflicts_of_one(change) if change.window_start else [],
        "calendar_url": calendar_link(change),
    }
    return web.render_page(request, "staff/changes/edit.html", context, status)


@staff_view
def change_ticket_candidates(request: StaffRequest, ref: str) -> HttpResponse:
    """htmx: section 4's candidates for a search, as checkboxes to tick."""
    user = request.user
    change = _change(user, ref, full=False)
    search = request.GET.get("ticket_search", "")
    ticked = {int(v) for v in request.GET.getlist("tickets") if v.isdigit()}
    _, rows = _ticket_rows(user, change, [], ticked, search)
    return web.render_page(
        request,
        "staff/changes/_ticket_candidates.html",
        {"change": change, "candidate_rows": rows, "ticket_search": search},
    )
