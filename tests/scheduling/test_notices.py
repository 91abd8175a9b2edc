"""What people are told of the schedule: the notice asking the other side to agree a window
names its conflicts, and outage communications carry their window as an `.ics` whose event
end users' calendars move and cancel in place."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from icalendar import Calendar

from notifications import smtp as engine
from notifications.models import Notification, NotificationKind
from tests.factories import ComponentFactory
from tests.notifications.utils import add_contacts, agree_window, outage_change
from tickets.models import ChangeComponent
from tickets.services import change_propose_window, change_transition

from .support import at, freeze, windowed

pytestmark = pytest.mark.django_db
Kind = NotificationKind


def test_the_notice_to_agree_a_window_names_its_conflicts(cast) -> None:
    comp = ComponentFactory(organization=cast.acme, name="Billing API")
    other = windowed(cast, 0, 2, components=[comp])
    change = windowed(cast, 20, 21, components=[comp])
    freeze(cast, 0, 3, title="Month end", reason="Invoices are being issued.")
    change_propose_window(change=change.pk, by=cast.agent, start=at(1), end=at(2))
    notice = Notification.objects.filter(change=change, kind=Kind.ACTION).latest("id")
    text = notice.body_text
    assert "Before agreeing, note the conflicts" in text
    assert f"{other.key}'s window" in text and "overlaps on Billing API" in text
    assert "Month end" in text and "Invoices are being issued." in text
    # Without a conflict, nothing of the kind.
    lone = windowed(cast, 40, 41)
    change_propose_window(change=lone.pk, by=cast.agent, start=at(50), end=at(51))
    quiet = Notification.objects.filter(change=lone, kind=Kind.ACTION).latest("id")
    assert "conflicts" not in quiet.body_text


def _ics(notification: Notification):
    message = engine.build_message(notification, to="someone@acme.example", msgid="<m@x>")
    parts = [a for a in message.attachments if a[0] == "outage.ics"]
    assert len(parts) == 1, message.attachments
    _name, content, mimetype = parts[0]
    assert mimetype == "text/calendar"
    cal = Calendar.from_ical(content)
    (event,) = cal.walk("VEVENT")
    return cal, event


def test_outage_communications_carry_the_window_as_an_ics(cast) -> None:
    add_contacts(cast.acme, 2)
    change = outage_change(cast.acme, cast.agent)
    start = (timezone.now() + timedelta(days=3)).replace(microsecond=0)
    agree_window(change, cast.agent, cast.alice, start=start)
    announcement = Notification.objects.get(change=change, kind=Kind.ANNOUNCEMENT)
    cal, event = _ics(announcement)
    assert str(cal["METHOD"]) == "PUBLISH"
    uid = str(event["UID"])
    assert uid == f"outage-change-{change.pk}@changeprocess.invalid"
    assert event["DTSTART"].dt == start and event["DTEND"].dt == start + timedelta(hours=2)
    assert str(event["SUMMARY"]) == announcement.subject
    assert str(event["STATUS"]) == "CONFIRMED"

    # Moved: the correction's event is the same one, with a higher SEQUENCE.
    moved = start + timedelta(days=2)
    agree_window(change, cast.agent, cast.alice, start=moved)
    correction = Notification.objects.get(change=change, kind=Kind.CORRECTION)
    _, again = _ics(correction)
    assert str(again["UID"]) == uid and again["DTSTART"].dt == moved
    assert int(again["SEQUENCE"]) > int(event["SEQUENCE"])

    # Cancelled: METHOD:CANCEL, STATUS:CANCELLED, same UID.
    change_transition(change=change.pk, by=cast.agent, name="cancel", comment="Not needed.")
    cancellation = Notification.objects.get(change=change, kind=Kind.CANCELLATION)
    cal, gone = _ics(cancellation)
    assert str(cal["METHOD"]) == "CANCEL" and str(gone["STATUS"]) == "CANCELLED"
    assert str(gone["UID"]) == uid and int(gone["SEQUENCE"]) >= int(again["SEQUENCE"])


def test_action_notices_carry_no_ics(cast) -> None:
    change = windowed(cast, 0, 1)
    ChangeComponent.objects.filter(change=change).delete()
    change_propose_window(change=change.pk, by=cast.agent, start=at(5), end=at(6))
    notice = Notification.objects.filter(change=change, kind=Kind.ACTION).latest("id")
    message = engine.build_message(notice, to="a@b.example", msgid="<m@x>")
    assert message.attachments == []
