"""What every portal view shares: the access decorator, the page frame, the words
for what is asked of the customer."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse

from ... import web
from ...errors import DomainError
from ...models import (
    Change,
    Ticket,
    TicketStatus,
)
from ...selectors import (
    customer_action_counts,
)
from ...typing import AuthenticatedRequest
from ..forms import (
    TransitionForm,
)

STAFF_HOME = "/staff/"

# What each waiting status asks of the customer, in their words. Keyed by status only:
# *whether* something waits on the customer is the models' `waiting_on_customer_q()`.
ASKED_OF_YOU = {
    "ticket": {
        TicketStatus.WAITING_FOR_CUSTOMER: "The support team answered and needs your reply.",
        TicketStatus.IN_TESTING: "It has been released: try it, then accept it or send it back.",
        TicketStatus.TO_BE_RELEASED: "It is ready and goes out when you carry out {change}.",
    },
    "change": {
        Change.S.TO_BE_REVIEWED_BY_BUSINESS: (
            "Review the change and approve it as Business, or reject it with a reason."
        ),
        Change.S.TO_BE_RELEASED: (
            "Settle the deployment window with the support team, confirm the checks before "
            "the release, then carry out the change."
        ),
        Change.S.IN_TESTING: (
            "Test it on UAT: record each scenario's result, accept or send back each "
            "ticket, then close the change."
        ),
        Change.S.ROLLED_BACK: "The change was rolled back: close it to finish.",
    },
}

# One line under each button: what taking the step means, in the customer's words (the
# shared actions partial adds the full stop).
ACTION_HELP = {
    "business_approve": "You confirm, for your business, that the change may go ahead",
    "reject": "The change goes back to the support team to be reworked",
    "submit": "The change goes to the support team's approvers",
    "perform": "Confirm you carried out the deployment procedure; its tickets move to testing",
    "roll_back": "Confirm you followed the rollback procedure",
    "close": "Ends the testing phase and closes the change",
    "cancel": "The change will not take place",
    "accept": "It works as expected: the ticket is done",
    "send_back": "It does not work: the support team looks at it again",
    "hold": "Keeps the ticket aside without closing it",
    "resume": "Brings the ticket back where it was",
}


# --------------------------------------------------------------------------- plumbing


# Customer users only: staff go to their workspace, anonymous users to the login; an object
# outside the user's organisation is a 404.
customer_portal = web.front_end(admits=lambda user: user.is_customer, elsewhere=STAFF_HOME)


def _page(
    request: AuthenticatedRequest, template: str, context: dict[str, Any], status: int = 200
) -> HttpResponse:
    from notifications.selectors import unread_notices_for

    # The navigation's counts and the unread notices, in one capped query.
    counts = customer_action_counts(request.user, also={"unread": unread_notices_for(request.user)})
    context.update(action_counts=counts, unread_notices=counts["unread"])
    return web.render_page(request, f"portal/{template}", context, status=status)


def _asked(kind: str, obj: Ticket | Change) -> str:
    text = ASKED_OF_YOU[kind].get(obj.status, "")
    if isinstance(obj, Ticket) and obj.change_id:
        return text.format(change=f"CHG-{obj.change_id}")
    return text


def _row_id(kind: str, pk: int) -> str:
    """Element ids of a form repeated once per row, unique on the page (a label must
    point at its own row's input)."""
    return f"{kind}-{pk}-%s"


def _refused_form(refusal: web.Refusal) -> TransitionForm:
    """A transition form as it was posted, carrying the refusal (ticket rows)."""
    form = TransitionForm({"comment": refusal.comment, "resolution": refusal.resolution})
    form.is_valid()
    web.add_domain_errors(form, DomainError(refusal.message, fields=refusal.fields))
    return form
