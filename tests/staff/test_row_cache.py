"""Rows of lists are rendered once and kept, keyed by everything they show
(tickets/templatetags/fragments.py): a kept row is never stale. Each test renders a list
(the rows are kept), changes one thing a row shows without touching what else the key
could lean on (`.update()` leaves `updated` as it was), and reads the list again."""

from __future__ import annotations

import time
import zoneinfo
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.cache import caches
from django.urls import reverse
from django.utils import timezone

from approvals.models import Approval, ApprovalRole, Decision
from tests.factories import ChangeFactory, TicketCommentFactory, TicketFactory, environment
from tests.staff.conftest import client_for
from tickets.models import (
    Change,
    ChangeStatus,
    Environment,
    Organization,
    TestScenario,
    Ticket,
    TicketComment,
    TicketStatus,
    User,
)
from tickets.templatetags.fragments import fingerprint


@pytest.fixture(autouse=True)
def _empty_row_cache() -> None:
    caches["fragments"].clear()


def _row(html: str, key: str) -> str:
    """The table row (or card) of `key` in a rendered list."""
    at = html.index(f">{key}<")
    start = max(html.rfind("<tr", 0, at), html.rfind("<li", 0, at))
    end = min(x for x in (html.find("</tr>", at), html.find("</li>", at)) if x != -1)
    return html[start:end]


def test_the_queue_shows_what_changed_since_its_rows_were_kept(cast) -> None:
    ticket = TicketFactory(organization=cast.acme, reporter=cast.alice, title="Printer jammed")
    client, url = client_for(cast.agent), reverse("staff:ticket_list")
    assert "Printer jammed" in _row(client.get(url).content.decode(), ticket.key)
    assert len(caches["fragments"]._cache) >= 1  # type: ignore[attr-defined]

    Ticket.objects.filter(pk=ticket.pk).update(title="Printer fixed", status=TicketStatus.TO_DO)
    row = _row(client.get(url).content.decode(), ticket.key)
    assert "Printer fixed" in row and "To do" in row and "Printer jammed" not in row

    # What the row shows of other rows: the organisation's name, the assignee's.
    Organization.objects.filter(pk=cast.acme.pk).update(name="Acme Holdings")
    Ticket.objects.filter(pk=ticket.pk).update(assignee=cast.agent2)
    User.objects.filter(pk=cast.agent2.pk).update(first_name="Grace", last_name="Hopper")
    row = _row(client.get(url).content.decode(), ticket.key)
    assert "Acme Holdings" in row and "Grace Hopper" in row


def test_a_row_is_shown_in_the_reader_s_time_zone(cast) -> None:
    ticket = TicketFactory(organization=cast.acme, reporter=cast.alice)
    url = reverse("staff:ticket_list")
    utc = _row(client_for(cast.agent).get(url).content.decode(), ticket.key)
    User.objects.filter(pk=cast.agent2.pk).update(timezone="Asia/Kolkata")  # UTC+05:30
    kolkata = _row(client_for(cast.agent2).get(url).content.decode(), ticket.key)
    shown = timezone.localtime(ticket.updated, zoneinfo.ZoneInfo("Asia/Kolkata"))
    assert utc != kolkata and shown.strftime("%H:%M") in kolkata


def test_the_change_list_counts_approvals_given_since(cast) -> None:
    change = ChangeFactory(organization=cast.acme, status=ChangeStatus.AWAITING_APPROVAL)
    client, url = client_for(cast.agent), reverse("staff:change_list")
    assert "0 of 3" in _row(client.get(url).content.decode(), change.key)
    Approval.objects.create(
        change=change,
        round=change.approval_round,
        role=ApprovalRole.QA,
        decision=Decision.APPROVED,
        by=cast.qa,
    )
    assert "1 of 3" in _row(client.get(url).content.decode(), change.key)


def test_the_board_and_the_portal_lists_show_a_new_status(cast) -> None:
    change = ChangeFactory(organization=cast.acme, status=ChangeStatus.DRAFT, title="Rotate keys")
    ticket = TicketFactory(organization=cast.acme, reporter=cast.alice)
    staff, alice = client_for(cast.agent), client_for(cast.alice)
    board, changes, tickets = (
        reverse("staff:change_board"),
        reverse("portal:changes"),
        reverse("portal:tickets"),
    )
    for client, url in ((staff, board), (alice, changes), (alice, tickets)):
        assert client.get(url).status_code == 200  # rows kept
    Change.objects.filter(pk=change.pk).update(title="Rotate the keys")
    Ticket.objects.filter(pk=ticket.pk).update(status=TicketStatus.WAITING_FOR_CUSTOMER)
    assert "Rotate the keys" in _row(staff.get(board).content.decode(), change.key)
    assert "Rotate the keys" in _row(alice.get(changes).content.decode(), change.key)
    assert "waits for you" in _row(alice.get(tickets).content.decode(), ticket.key)


def test_a_board_card_shows_its_organisation_and_environment_as_they_are_named_now(
    cast,
) -> None:
    """A card reads the two names as values of its own row (not as instances): renaming
    either draws the card again."""
    change = ChangeFactory(organization=cast.acme, status=ChangeStatus.DRAFT)
    staff, board = client_for(cast.agent), reverse("staff:change_board")
    card = _row(staff.get(board).content.decode(), change.key)
    assert f"{cast.acme.name} · {change.environment.name} · " in card
    Organization.objects.filter(pk=cast.acme.pk).update(name="Acme Holdings")
    Environment.objects.filter(pk=change.environment_id).update(name="Live")
    assert "Acme Holdings · Live · " in _row(staff.get(board).content.decode(), change.key)


def test_the_portal_home_shows_a_change_s_environment_as_it_is_named_now(cast) -> None:
    """The home's two lists of changes (waiting on the customer, coming up) read the
    environment's name as a value of the change's row: renaming it draws both again."""
    change = ChangeFactory(organization=cast.acme, status=ChangeStatus.TO_BE_REVIEWED_BY_BUSINESS)
    start = timezone.now() + timedelta(days=3)
    Change.objects.filter(pk=change.pk).update(
        window_start=start, window_end=start + timedelta(hours=2)
    )
    alice, home = client_for(cast.alice), reverse("portal:home")
    page = alice.get(home).content.decode()
    name = change.environment.name
    assert page.count(f"{name}</span>") == 1 and page.count(f"on {name}") == 1, page
    Environment.objects.filter(pk=change.environment_id).update(name="Live")
    page = alice.get(home).content.decode()
    assert f"{name}</span>" not in page and f"on {name}" not in page
    assert "Live</span>" in _row(page, change.key) and "on Live" in page


def test_the_fingerprint_covers_every_loaded_value_and_nothing_it_cannot_key(cast) -> None:
    change = ChangeFactory(organization=cast.acme, status=ChangeStatus.AWAITING_APPROVAL)

    def read() -> Change:
        return Change.objects.select_related("organization").prefetch_related("approvals").get()

    first = fingerprint(read())
    assert fingerprint(read()) == first  # the same values, the same key
    Organization.objects.filter(pk=cast.acme.pk).update(name="Acme Holdings")
    second = fingerprint(read())
    assert second != first  # a related row's value
    Approval.objects.create(
        change=change, round=1, role=ApprovalRole.QA, decision=Decision.APPROVED, by=cast.qa
    )
    assert fingerprint(read()) != second  # a prefetched row (whose own change is not walked)
    with timezone.override(zoneinfo.ZoneInfo("Europe/Paris")):
        in_paris = fingerprint(read())
    assert in_paris != fingerprint(read())  # the reader's time zone

    # A date is keyed by its instant: a microsecond later is another key.
    later = read()
    later.updated += timedelta(microseconds=1)
    assert fingerprint(later) != fingerprint(read())
    assert fingerprint([date(2026, 1, 2)]) != fingerprint([date(2026, 1, 3)])
    assert fingerprint([Decimal("1.10")]) != fingerprint([Decimal("1.1")])

    annotated = read()
    annotated.something = object()  # type: ignore[attr-defined]
    with pytest.raises(TypeError, match="cannot key"):
        fingerprint(annotated)


def test_a_kept_filter_form_shows_what_was_typed_and_today_s_choices(cast) -> None:
    client = client_for(cast.agent)
    tickets, changes = reverse("staff:ticket_list"), reverse("staff:change_list")
    client.get(tickets), client.get(changes)  # the unfiltered forms kept

    # A new member of staff and a new environment are offered at once.
    User.objects.filter(pk=cast.agent2.pk).update(first_name="Grace", last_name="Hopper")
    environment("staging")
    assert "Grace Hopper (agent2)" in client.get(tickets).content.decode()
    assert ">staging</option>" in client.get(changes).content.decode()

    # What was typed is kept, and what is wrong with it said, whatever was kept before.
    page = client.get(tickets, {"organization": "Acme", "priority": "high"}).content.decode()
    assert 'value="Acme"' in page and '<option value="high" selected>' in page
    page = client.get(changes, {"environment": "999999"}).content.decode()
    assert "Select a valid choice" in page
    assert "Select a valid choice" not in client.get(changes).content.decode()


def test_rows_draws_each_item_once_unpacks_and_says_when_there_is_none(cast) -> None:
    from django.template import Context, Template, TemplateSyntaxError

    template = Template(
        '{% load fragments %}<ul>{% rows pairs as ticket, note "test-rows" %}'
        "<li>{{ ticket.title }}: {{ note }}</li>{% empty %}<li>none</li>{% endrows %}</ul>"
    )
    first = TicketFactory(organization=cast.acme, reporter=cast.alice, title="One")
    second = TicketFactory(organization=cast.acme, reporter=cast.alice, title="Two")
    pairs = [(first, "a"), (second, "b")]
    assert template.render(Context({"pairs": pairs})) == "<ul><li>One: a</li><li>Two: b</li></ul>"
    # Kept: the same items give the same rows; another note is another row.
    assert template.render(Context({"pairs": pairs})) == "<ul><li>One: a</li><li>Two: b</li></ul>"
    assert "<li>One: c</li>" in template.render(Context({"pairs": [(first, "c")]}))
    assert template.render(Context({"pairs": []})) == "<ul><li>none</li></ul>"
    with pytest.raises(TemplateSyntaxError):
        Template("{% load fragments %}{% rows pairs as x %}{% endrows %}")


def test_a_kept_form_still_says_what_a_view_added_is_wrong(cast) -> None:
    """A refusal added after validation (`web.add_domain_errors`) is not in the data: the
    same data drawn before without it must not stand in for it."""
    from django.template import Context, Template

    from tickets.staff.forms import AssignForm

    template = Template(
        '{% load cache fragments %}{% cache 60 "test-form" form|form_fingerprint '
        'using="fragments" %}{{ form.assignee.errors }}{{ form.assignee }}{% endcache %}'
    )
    data = {"assignee": str(cast.agent.pk)}
    plain = AssignForm(data)
    assert plain.is_valid()
    assert "errorlist" not in template.render(Context({"form": plain}))
    refused = AssignForm(data)
    refused.is_valid()
    refused.add_error("assignee", "Only support agents take tickets.")
    assert "Only support agents take tickets." in template.render(Context({"form": refused}))


def test_a_timeline_entry_is_keyed_by_all_it_holds(cast) -> None:
    from django.utils import timezone as tz

    from tickets.staff.views.common import Entry

    at = tz.now()
    entry = Entry(at=at, kind="transition", actor=cast.agent, obj=None, text="Submit")
    same = Entry(at=at, kind="transition", actor=cast.agent, obj=None, text="Submit")
    assert fingerprint(entry) == fingerprint(same)
    assert fingerprint(entry) != fingerprint(
        Entry(at=at, kind="transition", actor=cast.qa, obj=None, text="Submit")
    )
    before = fingerprint(entry)
    User.objects.filter(pk=cast.agent.pk).update(first_name="Grace")
    cast.agent.refresh_from_db()  # the same instance, as the page reads it again
    assert fingerprint(entry) != before  # the actor's name is in the key


def test_a_row_that_cannot_be_keyed_is_drawn_every_time_not_refused() -> None:
    from django.template import Context, Template

    class Odd:
        def __init__(self, text: str) -> None:
            self.text = text

    template = Template(
        '{% load fragments %}{% rows items as x "test-odd" %}{{ x.text }};{% endrows %}'
    )
    assert template.render(Context({"items": [Odd("a"), Odd("b")]})) == "a;b;"
    assert template.render(Context({"items": [Odd("c")]})) == "c;"


def test_a_fragment_that_cannot_be_keyed_is_drawn_every_time_not_refused() -> None:
    from django.template import Context, Template

    class Odd:
        def __init__(self, text: str) -> None:
            self.text = text

    template = Template(
        '{% load cache fragments %}{% cache 60 "test-odd-one" x|fingerprint using="fragments" %}'
        "{{ x.text }}{% endcache %}"
    )
    assert template.render(Context({"x": Odd("a")})) == "a"
    assert template.render(Context({"x": Odd("b")})) == "b"


def test_a_ticket_s_conversation_shows_a_renamed_author_an_edit_and_the_posted_mark(
    cast,
) -> None:
    """Both ticket pages keep their conversation's entries: the author's name and the
    organisation are loaded with each comment, and the staff page's focus on the comment
    just posted is a value of its entry."""
    ticket = TicketFactory(organization=cast.acme, reporter=cast.alice)
    comment = TicketCommentFactory(ticket=ticket, author=cast.alice, body="It is broken")
    staff = reverse("staff:ticket_detail", args=[ticket.key])
    portal = reverse("portal:ticket", args=[ticket.key])
    agent, alice = client_for(cast.agent), client_for(cast.alice)
    for client, url in ((agent, staff), (alice, portal)):
        assert "It is broken" in client.get(url).content.decode()

    User.objects.filter(pk=cast.alice.pk).update(first_name="Alicia", last_name="Keys")
    TicketComment.objects.filter(pk=comment.pk).update(body="It works again")
    Organization.objects.filter(pk=cast.acme.pk).update(name="Acme Holdings")
    for client, url in ((agent, staff), (alice, portal)):
        page = client.get(url).content.decode()
        assert "Alicia Keys" in page and "It works again" in page and "It is broken" not in page
    page = agent.get(staff).content.decode()
    at = page.index(f'id="comment-{comment.pk}"')
    assert "Acme Holdings" in page[at : page.index("</li>", at)]  # the comment's own line

    focused = agent.get(staff, {"posted": comment.pk}).content.decode()
    assert f'id="comment-{comment.pk}" data-focus-after-swap' in focused
    assert "data-focus-after-swap" not in agent.get(staff).content.decode()
    assert "data-focus-after-swap" not in agent.get(staff, {"posted": "x"}).content.decode()


def test_the_board_and_the_list_count_only_the_approvals_that_count_now(cast) -> None:
    """Given in the current round and not dismissed (`approvals_given_now`): not one of an
    earlier round, nor a dismissed one, nor a rejection; and none on a change that no
    longer awaits approval."""
    change = ChangeFactory(
        organization=cast.acme, status=ChangeStatus.AWAITING_APPROVAL, approval_round=2
    )
    done = ChangeFactory(
        organization=cast.acme, status=ChangeStatus.TO_BE_RELEASED, approval_round=1
    )

    def give(subject, role, by, *, round=2, decision=Decision.APPROVED, dismissed=False):
        Approval.objects.create(
            change=subject,
            round=round,
            role=role,
            decision=decision,
            by=by,
            dismissed_at=timezone.now() if dismissed else None,
        )

    give(change, ApprovalRole.QA, cast.qa)  # counts
    give(change, ApprovalRole.PEER, cast.peer, round=1)  # an earlier round
    give(change, ApprovalRole.OPERATIONS, cast.ops, dismissed=True)
    give(change, ApprovalRole.PEER, cast.agent2, decision=Decision.REJECTED)
    give(done, ApprovalRole.QA, cast.qa, round=1)
    staff = client_for(cast.agent)
    board = staff.get(reverse("staff:change_board")).content.decode()
    listed = staff.get(reverse("staff:change_list")).content.decode()
    assert "Approvals 1/3" in _row(board, change.key)
    assert "1 of 3" in _row(listed, change.key)
    assert "Approvals" not in _row(board, done.key)
    assert " of 3" not in _row(listed, done.key)


def test_a_work_item_says_how_long_ago_as_of_the_start_of_the_minute(cast, monkeypatch) -> None:
    """The dashboard's work items are kept rows: "updated ... ago" is drawn against the
    start of the minute (`minute`, part of the key), so the row is the same all minute
    long and a new one the next."""
    from django.utils import timezone as tz

    ticket = TicketFactory(organization=cast.acme, reporter=cast.alice, assignee=cast.ops)
    real_now = tz.now
    at = real_now().replace(second=45, microsecond=0)
    Ticket.objects.filter(pk=ticket.pk).update(updated=at.replace(second=30) - timedelta(minutes=5))
    client = client_for(cast.ops)

    def row_at(moment):
        monkeypatch.setattr(tz, "now", lambda: moment)
        return _row(client.get(reverse("staff:dashboard")).content.decode(), ticket.key)

    # 4 min 30 s before the start of the minute; 5 min 15 s before the request.
    first = row_at(at)
    assert ">4\xa0minutes</time> ago" in first
    assert row_at(at.replace(second=59)) == first
    assert ">5\xa0minutes</time> ago" in row_at(at + timedelta(seconds=20))
    # Of no use after their minute: kept for 60 s (`timeout=60`), not the cache's hour.
    monkeypatch.setattr(tz, "now", real_now)
    cache = caches["fragments"]
    cache.clear()
    client.get(reverse("staff:dashboard"))
    expiries = [at for key, at in cache._expire_info.items() if ":row:dashboard-workitem:" in key]
    assert expiries and all(0 < at - time.time() <= 60 for at in expiries)


def test_a_scenario_s_key_leaves_out_its_change(cast) -> None:
    """`s|fingerprint:"change"`: a scenario prefetched with its change carries that change
    (Django caches it on each row); the scenario's fragment does not show it, and walking
    it whole for every scenario was most of the change page's scenarios."""
    change = ChangeFactory(organization=cast.acme)
    TestScenario.objects.create(change=change, position=1, kind="regression", description="A")

    def scenario():
        return Change.objects.prefetch_related("scenarios").get(pk=change.pk).scenarios.all()[0]

    first = scenario()
    assert first._state.fields_cache["change"].pk == change.pk  # what is left out
    key = fingerprint(first, "change")
    assert key != fingerprint(first)
    Change.objects.filter(pk=change.pk).update(title="Another title")
    assert fingerprint(scenario(), "change") == key
    TestScenario.objects.filter(change=change).update(note="Seen on UAT.")
    assert fingerprint(scenario(), "change") != key
