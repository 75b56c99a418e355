"""Reporting a message, through the API."""

import pytest

from safety.models import Report
from threads import services


def report_url(message) -> str:
    return f"/api/threads/{message.thread_id}/messages/{message.pk}/report/"


def test_a_member_reports_a_message_and_the_report_keeps_its_text(client_for, alice, bob, thread):
    message = services.message_create(thread=thread, sender=alice, text="buy now!!!")
    response = client_for(bob).post(report_url(message), {"reason": "spam", "note": "again"}, format="json")

    assert response.status_code == 201
    body = response.json()
    assert {k: body[k] for k in ("thread", "message", "reason", "note", "text", "status")} == {
        "thread": thread.pk, "message": message.pk, "reason": "spam", "note": "again", "text": "buy now!!!",
        "status": "open",
    }
    report = Report.objects.get()
    assert (report.sender_id, report.reporter_id) == (alice.pk, bob.pk)

    # Edited, then deleted: the report still holds the text as it was.
    services.message_update(message=message, editor=alice, text="nothing to see")
    services.message_delete(message=message, actor=alice)
    report.refresh_from_db()
    assert (report.text, report.message_id, report.status) == ("buy now!!!", message.pk, "open")


def test_reporting_again_answers_200_with_the_open_report(client_for, alice, bob, thread):
    message = services.message_create(thread=thread, sender=alice, text="hello")
    client = client_for(bob)
    first = client.post(report_url(message), {"reason": "harassment"}, format="json")
    second = client.post(report_url(message), {"reason": "other", "note": "x"}, format="json")
    assert (first.status_code, second.status_code) == (201, 200)
    assert second.json() == first.json()
    assert Report.objects.count() == 1

    # Once it is dealt with, a new report may be made.
    Report.objects.update(status=Report.Status.DISMISSED)
    assert client.post(report_url(message), {"reason": "other"}, format="json").status_code == 201


def test_the_sender_cannot_report_their_own_message(client_for, alice, thread):
    message = services.message_create(thread=thread, sender=alice, text="mine")
    response = client_for(alice).post(report_url(message), {"reason": "spam"}, format="json")
    assert response.status_code == 403
    assert not Report.objects.exists()


def test_a_non_member_gets_404(client_for, alice, carol, thread):
    message = services.message_create(thread=thread, sender=alice, text="private")
    assert client_for(carol).post(report_url(message), {"reason": "spam"}, format="json").status_code == 404
    assert client_for(carol).post(
        f"/api/threads/{thread.pk}/messages/999999/report/", {"reason": "spam"}, format="json"
    ).status_code == 404
    assert not Report.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "reason"),
        ({"reason": "rude"}, "reason"),
        ({"reason": 1}, "reason"),
        ({"reason": "other", "note": "x" * 1001}, "note"),
        ({"reason": "other", "note": 5}, "note"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(client_for, alice, bob, thread, body, field):
    message = services.message_create(thread=thread, sender=alice, text="hello")
    response = client_for(bob).post(report_url(message), body, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not Report.objects.exists()


def test_a_note_of_1000_characters_is_fine(client_for, alice, bob, thread):
    message = services.message_create(thread=thread, sender=alice, text="hello")
    response = client_for(bob).post(report_url(message), {"reason": "other", "note": "x" * 1000}, format="json")
    assert response.status_code == 201


def test_a_message_in_a_group_can_be_reported_by_any_other_member(client_for, alice, bob, carol, group):
    message = services.message_create(thread=group, sender=bob, text="hi all")
    assert client_for(alice).post(report_url(message), {"reason": "spam"}, format="json").status_code == 201
    assert client_for(carol).post(report_url(message), {"reason": "spam"}, format="json").status_code == 201
    assert Report.objects.filter(message_id=message.pk).count() == 2
