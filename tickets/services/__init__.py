"""Every state change of tickets and changes: one function per use case, by entity.

Each function fetches the object *for the acting user* (`access_*`, 404 outside their
organisation), locks its row, checks the role, runs the FSM transition (or the edit),
writes the log row in the same transaction, and leaves side effects to after commit.
Front ends (staff pages, portal, API, admin, commands) only translate to and from these,
and import them from here: `from tickets import services; services.change_update(...)`.
"""

from .attachments import attachment_add, attachment_delete
from .changes import (
    CHANGE_TEXT_FIELDS,
    change_create,
    change_set_components,
    change_set_tickets,
    change_transition,
    change_update,
    changelog_from_tickets,
    freezes_overridable,
    transitions_for,
)
from .components import component_create
from .contacts import (
    CONTACT_IMPORT_MAX_ROWS,
    ContactImportReport,
    RejectedRow,
    contact_add,
    contact_remove,
    contacts_import_csv,
)
from .editing import ScenarioEdit, change_edit
from .parts import (
    checklist_item_update,
    scenario_add,
    scenario_record_result,
    scenario_remove,
    scenario_update,
)
from .support import (
    ticket_assign,
    ticket_comment,
    ticket_create,
    ticket_transition,
    ticket_update,
)
from .tokens import TOKEN_LIFETIMES, token_create, token_revoke, tokens_of
from .windows import change_propose_window, window_problems

__all__ = [
    "CHANGE_TEXT_FIELDS",
    "CONTACT_IMPORT_MAX_ROWS",
    "TOKEN_LIFETIMES",
    "ContactImportReport",
    "RejectedRow",
    "ScenarioEdit",
    "attachment_add",
    "attachment_delete",
    "change_create",
    "change_edit",
    "change_propose_window",
    "change_set_components",
    "change_set_tickets",
    "change_transition",
    "change_update",
    "changelog_from_tickets",
    "checklist_item_update",
    "component_create",
    "contact_add",
    "contact_remove",
    "contacts_import_csv",
    "freezes_overridable",
    "scenario_add",
    "scenario_record_result",
    "scenario_remove",
    "scenario_update",
    "ticket_assign",
    "ticket_comment",
    "ticket_create",
    "ticket_transition",
    "ticket_update",
    "token_create",
    "token_revoke",
    "tokens_of",
    "transitions_for",
    "window_problems",
]
