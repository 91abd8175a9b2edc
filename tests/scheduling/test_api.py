"""The Scheduling API (API.md): the calendar, freezes (operations management writes them),
conflicts on a change, the iCalendar feed, and perform inside a hard freeze."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from icalendar import Calendar

from tests.api.support import ok
from tests.factories import ComponentFactory, complete_checklist, environment
from tickets.models import Change, ChangeStatus, Freeze, FreezeOverride, TransitionLog

from .support import at, freeze, windowed

V1 = "/api/v1"
pytestmark = pytest.mark.django_db


def day(hours: float) -> str:
    return at(hours).date().isoformat()


# --------------------------------------------------------------------------- calendar


def test_the_calendar_lists_windows_and_freeze_periods_with_conflicts(cast, api) -> None:
    comp = ComponentFactory(organization=cast.acme)
    a = windowed(cast, 0, 2, components=[comp], agreed=True)
    b = windowed(cast, 1, 3, components=[comp])
    nightly = freeze(cast, 24, 26, title="Nightly", rrule="FREQ=DAILY;COUNT=3", hard=False)
    rows = ok(api("ops").get(f"{V1}/calendar/", {"start": day(-24), "end": day(96)}))
    changes = [r for r in rows if r["kind"] == "change"]
    freezes = [r for r in rows if r["kind"] == "freeze"]
    assert [(r["change"], r["key"], r["window_agreed"]) for r in changes] == [
        (a.pk, a.key, True),
        (b.pk, b.key, False),
    ]
    assert [c["id"] for c in changes[0]["conflicts"]] == [b.pk]
    assert changes[0]["status"] == a.status and changes[0]["environment"] == "uat"
    assert [(r["freeze"], r["hard"]) for r in freezes] == [(nightly.pk, False)] * 3


def test_a_customer_sees_their_organisation_and_the_freezes_that_apply(cast, api) -> None:
    mine = windowed(cast, 0, 2)
    theirs = windowed(cast, 0, 2, organization=cast.globex)
    everyone = freeze(cast, 4, 5, title="Everyone")
    acme_only = freeze(cast, 4, 5, title="Acme", organization=cast.acme.pk)
    freeze(cast, 4, 5, title="Globex sale", organization=cast.globex.pk)
    span = {"start": day(-24), "end": day(48)}
    rows = ok(api("alice").get(f"{V1}/calendar/", span))
    assert {r.get("change") for r in rows if r["kind"] == "change"} == {mine.pk}
    assert {r["freeze"] for r in rows if r["kind"] == "freeze"} == {everyone.pk, acme_only.pk}
    bob = ok(api("bob").get(f"{V1}/calendar/", span))
    assert {r.get("change") for r in bob if r["kind"] == "change"} == {theirs.pk}
    # The provider filters by organisation, environment, component and status.
    assert {
        r["change"]
        for r in ok(api("ops").get(f"{V1}/calendar/", {**span, "organization": cast.globex.pk}))
        if r["kind"] == "change"
    } == {theirs.pk}
    assert [
        r
        for r in ok(api("ops").get(f"{V1}/calendar/", {**span, "environment": "production"}))
        if r["kind"] == "change"
    ] == []
    assert [
        r["change"]
        for r in ok(api("ops").get(f"{V1}/calendar/", {**span, "status": "to_be_released"}))
        if r["kind"] == "change"
    ] == []


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({}, "start"),
        ({"start": "2027-01-01"}, "end"),
        ({"start": "2027-01-01", "end": "2027-06-01"}, "end"),
        ({"start": "2027-02-01", "end": "2027-01-01"}, "end"),
        ({"start": "tomorrow", "end": "2027-01-01"}, "start"),
        ({"start": "2027-01-01", "end": "2027-01-31", "environment": "mars"}, "environment"),
        ({"start": "2027-01-01", "end": "2027-01-31", "status": "lost"}, "status"),
        ({"start": "2027-01-01", "end": "2027-01-31", "organization": "x"}, "organization"),
    ],
)
def test_a_bad_range_or_filter_is_a_400_naming_it(cast, api, params, field) -> None:
    answer = api("agent").get(f"{V1}/calendar/", params)
    assert answer.status_code == 400, answer.content
    assert answer.json()["detail"]
    assert (
        field in answer.json().get("errors", answer.json().get("fields", {}))
        or field in (answer.json()["detail"])
    ), answer.json()


# --------------------------------------------------------------------------- freezes


def body(**extra):
    data = {
        "title": "Black Friday",
        "start": at(0).isoformat(),
        "end": at(24).isoformat(),
        "rrule": "FREQ=YEARLY",
        "timezone": "America/New_York",
        "reason": "The busiest day of the year.",
    }
    data.update(extra)
    return data


def test_only_operations_management_declares_freezes(cast, api) -> None:
    for who in ("alice", "agent", "qa"):
        answer = api(who).post(f"{V1}/freezes/", body())
        assert answer.status_code == 403, (who, answer.content)
    assert Freeze.objects.count() == 0
    made = ok(api("ops").post(f"{V1}/freezes/", body(components=[])), 201)
    assert made["hard"] is True and made["rrule"] == "FREQ=YEARLY" and made["created_by"] == "ops"
    assert ok(api("alice").get(f"{V1}/freezes/{made['id']}/"))["title"] == "Black Friday"
    assert api("agent").patch(f"{V1}/freezes/{made['id']}/", {"hard": False}).status_code == 403
    changed = ok(api("ops").patch(f"{V1}/freezes/{made['id']}/", {"hard": False}))
    assert changed["hard"] is False and Freeze.objects.get().sequence == 1
    assert api("ops").delete(f"{V1}/freezes/{made['id']}/").status_code == 204
    assert api("ops").get(f"{V1}/freezes/{made['id']}/").status_code == 404


def test_another_organisations_freeze_is_a_404_for_a_customer(cast, api) -> None:
    theirs = freeze(cast, 0, 2, organization=cast.globex.pk)
    assert api("alice").get(f"{V1}/freezes/{theirs.pk}/").status_code == 404
    assert ok(api("bob").get(f"{V1}/freezes/{theirs.pk}/"))["id"] == theirs.pk
    assert ok(api("alice").get(f"{V1}/freezes/"))["results"] == []


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"rrule": "FREQ=HOURLY"}, "rrule"),
        ({"rrule": "EVERY FRIDAY"}, "rrule"),
        ({"end": at(-1).isoformat()}, "end"),
        ({"end": at(24 * 70).isoformat()}, "end"),
        ({"organization": 999999}, "organization"),
        ({"environment": 999999}, "environment"),
        ({"components": [999999]}, "components"),
    ],
)
def test_a_bad_freeze_is_a_400_naming_the_field_and_nothing_is_saved(
    cast, api, extra, field
) -> None:
    answer = api("ops").post(f"{V1}/freezes/", body(**extra))
    assert answer.status_code == 400, answer.content
    assert field in answer.json()["detail"] or field in str(answer.json())
    assert Freeze.objects.count() == 0


def test_a_freeze_on_one_organisation_takes_only_its_components(cast, api) -> None:
    theirs = ComponentFactory(organization=cast.globex)
    answer = api("ops").post(
        f"{V1}/freezes/", body(organization=cast.acme.pk, components=[theirs.pk])
    )
    assert answer.status_code == 400 and "components" in str(answer.json())


# --------------------------------------------------------------------------- conflicts


def test_a_change_shows_its_conflicts_in_the_api(cast, api) -> None:
    comp = ComponentFactory(organization=cast.acme)
    a = windowed(cast, 0, 2, components=[comp])
    b = windowed(cast, 1, 3, components=[comp])
    f = freeze(cast, 1, 2, title="Sale", organization=cast.acme.pk, hard=False)
    shown = ok(api("alice").get(f"{V1}/changes/{a.key}/"))["conflicts"]
    assert [(c["kind"], c["id"], c["key"]) for c in shown] == [
        ("change", b.pk, b.key),
        ("freeze", f.pk, None),
    ]
    listed = ok(api("alice").get(f"{V1}/changes/"))["results"]
    assert {r["key"]: [c["id"] for c in r["conflicts"]] for r in listed} == {
        a.key: [b.pk, f.pk],
        b.key: [a.pk, f.pk],
    }


def test_the_change_list_computes_conflicts_for_the_page_at_once(
    cast, api, django_assert_max_num_queries
) -> None:
    comp = ComponentFactory(organization=cast.acme)
    for i in range(5):
        windowed(cast, i, i + 2, components=[comp])
    client = api("agent")
    client.get(f"{V1}/changes/")
    with django_assert_max_num_queries(30) as few:
        ok(client.get(f"{V1}/changes/"))
    for i in range(15):
        windowed(cast, 10 + i, 12 + i, components=[comp])
    with django_assert_max_num_queries(len(few.captured_queries)):
        rows = ok(client.get(f"{V1}/changes/"))["results"]
    assert all(r["conflicts"] for r in rows)


# --------------------------------------------------------------------------- perform


def ready(cast, **kwargs) -> Change:
    """A change To be released, window open now and agreed, checklist done."""
    change = windowed(cast, 0, 1, status=ChangeStatus.TO_BE_RELEASED, agreed=True, **kwargs)
    now = timezone.now()
    Change.objects.filter(pk=change.pk).update(
        window_start=now - timedelta(minutes=5), window_end=now + timedelta(hours=1)
    )
    complete_checklist(change, cast.agent)
    change.refresh_from_db()
    return change


def freeze_now(cast, **data) -> Freeze:
    from tickets.services import schedule

    now = timezone.now()
    data.setdefault("title", "Quarter close")
    return schedule.freeze_create(
        by=cast.ops, start=now - timedelta(hours=1), end=now + timedelta(hours=2), **data
    )


def test_perform_is_refused_inside_a_hard_freeze_with_the_freeze_named(cast, api) -> None:
    change = ready(cast)
    freeze_now(cast, reason="Books are closing.")
    answer = api("agent").post(f"{V1}/changes/{change.key}/transitions/perform/", {})
    assert answer.status_code == 409, answer.content
    assert "frozen until" in answer.json()["detail"]
    assert "Books are closing." in answer.json()["detail"]
    assert Change.objects.get(pk=change.pk).status == ChangeStatus.TO_BE_RELEASED
    gate = ok(api("agent").get(f"{V1}/changes/{change.key}/gate/"))
    assert gate["allowed"] is False and any("Quarter close" in r for r in gate["reasons"])


def test_a_soft_freeze_or_one_elsewhere_does_not_refuse(cast, api) -> None:
    change = ready(cast)
    freeze_now(cast, hard=False)
    freeze_now(cast, environment=environment("production").pk)
    freeze_now(cast, organization=cast.globex.pk)
    ok(api("agent").post(f"{V1}/changes/{change.key}/transitions/perform/", {}))
    assert Change.objects.get(pk=change.pk).status == ChangeStatus.IN_TESTING


def test_only_operations_management_overrides_and_the_override_is_in_the_history(cast, api) -> None:
    change = ready(cast)
    f = freeze_now(cast)
    path = f"{V1}/changes/{change.key}/transitions/perform/"
    refused = api("agent").post(path, {"override_reason": "Customer is down."})
    assert refused.status_code == 403, refused.content
    assert refused.json()["detail"] == (
        "Only operations management may override a hard freeze; ask them to perform it."
    )
    assert FreezeOverride.objects.count() == 0
    # A reason for another transition is refused outright.
    other = api("ops").post(
        f"{V1}/changes/{change.key}/transitions/cancel/",
        {"comment": "no", "override_reason": "x"},
    )
    assert other.status_code == 400
    done = ok(api("ops").post(path, {"override_reason": "Customer is down.", "comment": "Go."}))
    assert done["status"] == ChangeStatus.IN_TESTING
    (row,) = FreezeOverride.objects.all()
    assert (row.change_id, row.freeze_id, row.actor, row.reason) == (
        change.pk,
        f.pk,
        cast.ops,
        "Customer is down.",
    )
    (log,) = TransitionLog.objects.filter(change=change, transition="perform")
    assert log.comment == (
        "Go.\n\nPerformed inside the hard freeze 'Quarter close', overridden: Customer is down."
    )
    history = ok(api("alice").get(f"{V1}/changes/{change.key}/history/"))["results"]
    assert "overridden: Customer is down." in history[-1]["comment"]


# --------------------------------------------------------------------------- the feed


def feed_url(api, who: str) -> str:
    url = ok(api(who).post(f"{V1}/calendar/feed/"), 201)["url"]
    assert url.startswith("http://testserver/api/v1/calendar/feed/") and url.endswith(".ics")
    return url.removeprefix("http://testserver")


def events(client, path: str) -> dict[str, object]:
    answer = client.get(path)
    assert answer.status_code == 200, answer.content
    assert answer["Content-Type"].startswith("text/calendar")
    cal = Calendar.from_ical(answer.content)
    return {str(e["UID"]): e for e in cal.walk("VEVENT")}


def test_the_feed_is_valid_icalendar_with_each_event_checked(cast, api, client) -> None:
    comp = ComponentFactory(organization=cast.acme)
    a = windowed(cast, 0, 2, components=[comp], agreed=True)
    b = windowed(cast, 1, 3, components=[comp])
    windowed(cast, 0, 2, organization=cast.globex)  # never in Alice's feed
    weekly = freeze(cast, 5, 9, title="Friday", rrule="FREQ=WEEKLY", timezone="Europe/London")
    path = feed_url(api, "alice")
    got = events(client, path)  # no session, no token: the URL is the credential
    domain = "changeprocess.invalid"
    assert set(got) == {
        f"change-{a.pk}@{domain}",
        f"change-{b.pk}@{domain}",
        f"freeze-{weekly.pk}@{domain}",
    }
    ea, eb = got[f"change-{a.pk}@{domain}"], got[f"change-{b.pk}@{domain}"]
    assert ea["DTSTART"].dt == a.window_start and ea["DTEND"].dt == a.window_end
    assert str(ea["SUMMARY"]) == f"{a.key} {a.title}"
    assert str(ea["STATUS"]) == "CONFIRMED" and str(eb["STATUS"]) == "TENTATIVE"
    assert int(ea["SEQUENCE"]) == 0
    assert f"Conflict: {b.key}" in str(ea["DESCRIPTION"])
    assert str(ea["URL"]).endswith(f"/portal/changes/{a.key}/")
    ef = got[f"freeze-{weekly.pk}@{domain}"]
    assert ef["RRULE"].to_ical() == b"FREQ=WEEKLY"
    assert ef["DTSTART"].params["TZID"] == "Europe/London"
    cal = Calendar.from_ical(client.get(path).content)
    assert [str(tz["TZID"]) for tz in cal.walk("VTIMEZONE")] == ["Europe/London"]


def test_a_moved_window_raises_the_sequence_and_a_cancel_marks_it_cancelled(cast, api, client):
    from tickets.services import change_propose_window, change_transition

    change = windowed(cast, 0, 2)
    path = feed_url(api, "agent")
    uid = f"change-{change.pk}@changeprocess.invalid"
    assert int(events(client, path)[uid]["SEQUENCE"]) == 0
    change_propose_window(change=change.pk, by=cast.agent, start=at(3), end=at(5))
    moved = events(client, path)[uid]
    assert int(moved["SEQUENCE"]) == 1 and moved["DTSTART"].dt == at(3)
    change_transition(change=change.pk, by=cast.agent, name="cancel", comment="Not needed.")
    gone = events(client, path)[uid]
    assert int(gone["SEQUENCE"]) == 2 and str(gone["STATUS"]) == "CANCELLED"


def test_a_revoked_or_replaced_feed_url_is_a_404(cast, api, client) -> None:
    first = feed_url(api, "alice")
    second = feed_url(api, "alice")
    assert client.get(first).status_code == 404
    assert client.get(second).status_code == 200
    assert api("alice").delete(f"{V1}/calendar/feed/").status_code == 204
    assert client.get(second).status_code == 404
    assert client.get("/api/v1/calendar/feed/not-a-token.ics").status_code == 404
    # A user who leaves (deactivated) takes their feed with them.
    third = feed_url(api, "alice")
    cast.alice.is_active = False
    cast.alice.save()
    assert client.get(third).status_code == 404


def test_the_feed_of_many_changes_costs_a_fixed_number_of_queries(
    cast, api, client, django_assert_max_num_queries
) -> None:
    comp = ComponentFactory(organization=cast.acme)
    for i in range(3):
        windowed(cast, i, i + 2, components=[comp])
    path = feed_url(api, "agent")
    with django_assert_max_num_queries(12) as few:
        client.get(path)
    for i in range(30):
        windowed(cast, 10 + i, 12 + i, components=[comp])
    freeze(cast, 0, 1, rrule="FREQ=DAILY")
    with django_assert_max_num_queries(len(few.captured_queries) + 2):
        assert len(events(client, path)) == 34


def test_the_feed_holds_the_windows_nearest_to_now(cast, api, client, settings) -> None:
    settings.CALENDAR_FEED_MAX_EVENTS = 3
    now = timezone.now()
    made = {}
    for days in (-20, -10, -2, 1, 5, 30):
        change = windowed(cast, 0, 1)
        start = now + timedelta(days=days)
        Change.objects.filter(pk=change.pk).update(
            window_start=start, window_end=start + timedelta(hours=1)
        )
        made[days] = change.pk
    got = events(client, feed_url(api, "agent"))
    kept = {int(uid.split("-")[1].split("@")[0]) for uid in got}
    assert kept == {made[1], made[5], made[30]}  # what is coming first
    settings.CALENDAR_FEED_MAX_EVENTS = 5
    got = events(client, feed_url(api, "agent"))
    kept = {int(uid.split("-")[1].split("@")[0]) for uid in got}
    assert kept == {made[-10], made[-2], made[1], made[5], made[30]}  # then the recent past


@pytest.mark.parametrize("scope", ["organisation", "environment", "component"])
def test_a_hard_freeze_scoped_to_the_change_refuses_it(cast, api, scope) -> None:
    change = ready(cast)
    data = {
        "organisation": {"organization": cast.acme.pk},
        "environment": {"environment": change.environment_id},
        "component": {"components": [change.change_components.get().component_id]},
    }[scope]
    freeze_now(cast, title=f"Only {scope}", **data)
    answer = api("agent").post(f"{V1}/changes/{change.key}/transitions/perform/", {})
    assert answer.status_code == 409, answer.content
    assert f"(Only {scope})" in answer.json()["detail"]


def test_a_recurring_hard_freeze_in_force_refuses_and_two_are_named_in_order(cast, api) -> None:
    from tickets.services import schedule

    change = ready(cast)
    now = timezone.now()
    schedule.freeze_create(
        by=cast.ops,
        title="Nightly batch",
        start=now - timedelta(days=3, minutes=30),
        end=now - timedelta(days=3) + timedelta(minutes=30),
        rrule="FREQ=DAILY",
    )
    freeze_now(cast, title="Quarter close")  # started an hour ago: named first
    detail = (
        api("agent").post(f"{V1}/changes/{change.key}/transitions/perform/", {}).json()["detail"]
    )
    assert detail.index("(Quarter close)") < detail.index("(Nightly batch)"), detail


def test_a_freeze_is_in_force_from_its_start_to_just_before_its_end(cast) -> None:
    from tickets.models import hard_freezes_in_force

    change = ready(cast)
    f = freeze(cast, 0, 2)
    assert [o.freeze for o in hard_freezes_in_force(change, f.start)] == [f]
    assert hard_freezes_in_force(change, f.start - timedelta(microseconds=1)) == []
    assert [o.freeze for o in hard_freezes_in_force(change, f.end - timedelta(microseconds=1))] == [
        f
    ]
    assert hard_freezes_in_force(change, f.end) == []


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("0001-01-01T00:00:00Z", "0001-01-02T00:00:00Z"),
        ("9999-12-30T00:00:00Z", "9999-12-31T00:00:00Z"),
    ],
)
def test_a_freeze_outside_the_years_a_page_can_show_is_refused(cast, api, start, end) -> None:
    answer = api("ops").post(f"{V1}/freezes/", body(start=start, end=end, rrule="FREQ=DAILY"))
    assert answer.status_code == 400, answer.content
    assert "between the years" in answer.json()["detail"]
    assert Freeze.objects.count() == 0


def test_a_recurrence_too_long_to_walk_is_read_as_never_ending(cast) -> None:
    from tickets.models.freezes import LAST_END_SCAN

    f = freeze(cast, 0, 1, rrule=f"FREQ=DAILY;COUNT={LAST_END_SCAN + 1}")
    assert f.last_end is None
    # Its periods are all found, however far ahead.
    far = f.start + timedelta(days=LAST_END_SCAN)
    assert [o.start for o in f.occurrences(far, far + timedelta(hours=1))] == [far]
    g = freeze(cast, 0, 1, rrule=f"FREQ=DAILY;COUNT={LAST_END_SCAN}")
    assert g.last_end == g.start + timedelta(days=LAST_END_SCAN - 1, hours=1)


def test_an_id_beyond_a_bigint_is_simply_not_found(cast, api, client) -> None:
    from tickets.errors import InvalidInput
    from tickets.services import schedule

    huge = "9" * 25
    with pytest.raises(InvalidInput) as refused:
        schedule.freeze_create(
            by=cast.ops, title="x", start=at(0), end=at(1), organization=huge, components=[huge]
        )
    assert set(refused.value.fields) == {"organization", "components"}
    assert api("ops").get(f"{V1}/freezes/{huge}/").status_code == 404
    client.force_login(cast.agent)
    assert client.get(f"/staff/changes/{huge}/").status_code == 404
    assert client.get(f"/staff/freezes/{'9' * 18}/").status_code == 404


def test_a_calendar_of_one_day_includes_that_day_and_the_years_are_bounded(cast, api) -> None:
    change = windowed(cast, 0, 2)
    d = day(0)
    rows = ok(api("agent").get(f"{V1}/calendar/", {"start": d, "end": d}))
    assert [r["change"] for r in rows if r["kind"] == "change"] == [change.pk]
    for params in (
        {"start": "9999-12-01", "end": "9999-12-31"},
        {"start": "0001-01-01", "end": "0001-02-01"},
    ):
        answer = api("agent").get(f"{V1}/calendar/", params)
        assert answer.status_code == 400 and "between the years" in answer.json()["detail"]


def test_a_freeze_time_without_its_offset_is_refused(cast, api) -> None:
    answer = api("ops").post(
        f"{V1}/freezes/", body(start="2030-01-01T00:00:00", end="2030-01-02T00:00:00")
    )
    assert answer.status_code == 400 and "offset" in str(answer.json())
    assert Freeze.objects.count() == 0


def test_the_calendar_reads_freezes_in_a_fixed_number_of_queries(
    cast, api, django_assert_max_num_queries
) -> None:
    client = api("agent")
    span = {"start": day(-24), "end": day(72)}
    freeze(cast, 0, 1, environment=environment("uat").pk)
    client.get(f"{V1}/calendar/", span)
    with django_assert_max_num_queries(20) as few:
        client.get(f"{V1}/calendar/", span)
    for i in range(6):
        freeze(cast, i, i + 1, environment=environment("production").pk, title=f"F{i}")
    with django_assert_max_num_queries(len(few.captured_queries)):
        rows = ok(client.get(f"{V1}/calendar/", span))
    assert len([r for r in rows if r["kind"] == "freeze"]) == 7
