"""The domain of WORKFLOW.md, by entity: organisations and people (`people`), support
tickets (`support`), change tickets (`changes`) and their parts (`parts`), the history
(`history`), files (`attachments`), e-mail received (`inbound`); with the enumerations
(`choices`), the nine sections of a change (`sections`), freezes and calendar feeds
(`freezes`), who may do what (`roles`), the change workflow's guards (`guards`) and
django-fsm's optimistic locking (`fsm`).
Everything is importable from `tickets.models` as before.
"""

from .attachments import Attachment, AttachmentEvent
from .changes import WINDOW_EARLIEST, WINDOW_LATEST, Change
from .choices import (
    CHANGE_CLOSED,
    CUSTOMER_RELEASE,
    HOLDABLE,
    WINDOW_LIVE,
    ChangeStatus,
    ChecklistState,
    Performer,
    Priority,
    Resolution,
    ScenarioKind,
    ScenarioResult,
    StandardCheck,
    TicketStatus,
    TicketType,
)
from .freezes import (
    CalendarFeed,
    Freeze,
    Occurrence,
    feed_token_hash,
    freeze_occurrences_for,
    hard_freezes_in_force,
    overlaps,
    parse_rrule,
)
from .gate import GateAnswer, deployment_gate, gate_reasons
from .history import AppendOnly, AppendOnlyQuerySet, FreezeOverride, SectionEdit, TransitionLog
from .inbound import InboundEmail
from .parts import (
    ChangeComponent,
    ChecklistItem,
    ChecklistTemplateItem,
    ReleasedTicket,
    TestScenario,
)
from .people import (
    TIMEZONE_CHOICES,
    Component,
    ComponentVersion,
    Contact,
    Environment,
    Organization,
    User,
    UserRole,
)
from .roles import (
    APPROVER,
    CHECKLIST_FILLER,
    CUSTOMER,
    PERFORMER_SIDE,
    PROVIDER,
    PROVIDER_OR_CUSTOMER,
    REJECTER,
    RESULT_RECORDER,
    ROLLBACK_SIDE,
    SECTION_EDITOR,
    SUBMITTER,
    WINDOW_AGREER,
    WINDOW_PROPOSER,
)
from .sections import EDITABLE, FIELD_SECTION, SECTION_COLUMNS, SECTIONS
from .support import Ticket, TicketComment

__all__ = [
    "APPROVER",
    "CHANGE_CLOSED",
    "CHECKLIST_FILLER",
    "CUSTOMER",
    "CUSTOMER_RELEASE",
    "EDITABLE",
    "FIELD_SECTION",
    "HOLDABLE",
    "PERFORMER_SIDE",
    "PROVIDER",
    "PROVIDER_OR_CUSTOMER",
    "REJECTER",
    "RESULT_RECORDER",
    "ROLLBACK_SIDE",
    "SECTIONS",
    "SECTION_COLUMNS",
    "SECTION_EDITOR",
    "SUBMITTER",
    "TIMEZONE_CHOICES",
    "WINDOW_AGREER",
    "WINDOW_EARLIEST",
    "WINDOW_LATEST",
    "WINDOW_LIVE",
    "WINDOW_PROPOSER",
    "AppendOnly",
    "AppendOnlyQuerySet",
    "Attachment",
    "AttachmentEvent",
    "CalendarFeed",
    "Change",
    "ChangeComponent",
    "ChangeStatus",
    "ChecklistItem",
    "ChecklistState",
    "ChecklistTemplateItem",
    "Component",
    "ComponentVersion",
    "Contact",
    "Environment",
    "Freeze",
    "FreezeOverride",
    "GateAnswer",
    "InboundEmail",
    "Occurrence",
    "Organization",
    "Performer",
    "Priority",
    "ReleasedTicket",
    "Resolution",
    "ScenarioKind",
    "ScenarioResult",
    "SectionEdit",
    "StandardCheck",
    "TestScenario",
    "Ticket",
    "TicketComment",
    "TicketStatus",
    "TicketType",
    "TransitionLog",
    "User",
    "UserRole",
    "deployment_gate",
    "feed_token_hash",
    "freeze_occurrences_for",
    "gate_reasons",
    "hard_freezes_in_force",
    "overlaps",
    "parse_rrule",
]
