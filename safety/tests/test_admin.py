"""The report queue in the admin: its order, what each row shows, its
actions (through the services: counters exact, events sent, sessions
ended), and a fixed number of queries whatever its length."""

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from safety import services as safety_services
from safety.models import Block, Report
from threads import services
from threads.models import Message
from threads.tests.counters import assert_counters_exact

QUEUE = reverse("admin:safety_report_changelist")


def make_reports(count: int) -> list[Report]:
    reports = []
    for index in range(count):
        sender = User.objects.create_user(username=f"sender{index}")
        reporter = User.objects.create_user(username=f"reporter{index}")
        thread, _ = services.thread_get_or_create(user=sender, other=reporter)
        message = services.message_create(thread=thread, sender=sender, text=f"spam number {index}")
        reports.append(safety_services.message_report(message=message, reporter=reporter, reason="spam")[0])
    return reports


def run_action(admin_client, action: str, reports):
    return admin_client.post(
        QUEUE, {"action": action, "_selected_action": [report.pk for report in reports]}, follow=True
    )


@pytest.mark.parametrize("size", [2, 30])
def test_the_queue_runs_the_same_queries_whatever_its_length(admin_client, django_assert_num_queries, size):
    make_reports(size)
    admin_client.get(QUEUE)  # warm the session

    # session, user, count, page with sender and reporter
    with django_assert_num_queries(4):
        response = admin_client.get(QUEUE)

    assert len(response.context["cl"].result_list) == size
    page = response.content.decode()
    for shown in ("spam number 0", "sender0", "reporter0"):
        assert shown in page
    assert reverse("admin:threads_thread_change", args=[Report.objects.first().thread_id]) in page


def test_the_queue_lists_open_reports_first_then_oldest_first(admin_client):
    first, second, third = make_reports(3)
    safety_services.reports_dismiss(reports=Report.objects.filter(pk=first.pk))

    response = admin_client.get(QUEUE)

    assert [report.pk for report in response.context["cl"].result_list] == [second.pk, third.pk, first.pk]


def test_a_report_page_shows_the_reported_text(admin_client):
    [report] = make_reports(1)
    response = admin_client.get(reverse("admin:safety_report_change", args=[report.pk]))
    assert response.status_code == 200
    assert "spam number 0" in response.content.decode()


def test_dismiss_closes_the_selected_open_reports_only(admin_client):
    chosen, other = make_reports(2)
    response = run_action(admin_client, "dismiss", [chosen])
    assert "Dismissed 1 report(s)." in response.content.decode()
    chosen.refresh_from_db()
    other.refresh_from_db()
    assert (chosen.status, chosen.resolved_by.username, other.status) == ("dismissed", "admin", "open")
    assert Message.objects.count() == 2


def test_delete_message_deletes_through_the_service_and_closes_its_reports(admin_client, make_user):
    [report] = make_reports(1)
    message = Message.objects.get(pk=report.message_id)
    # A second reporter's report of the same message closes with it.
    third = make_user("third")
    group = services.group_create(owner=message.sender, title="g", members=[third])
    in_group = services.message_create(thread=group, sender=message.sender, text="group spam")
    group_report, _ = safety_services.message_report(message=in_group, reporter=third, reason="spam")

    response = run_action(admin_client, "delete_message", [report, group_report])

    assert "Deleted 2 message(s)." in response.content.decode()
    assert not Message.objects.filter(pk__in=[message.pk, in_group.pk]).exists()
    assert set(Report.objects.values_list("status", flat=True)) == {"message_deleted"}
    assert Report.objects.get(pk=report.pk).text == "spam number 0"  # the copy stays
    assert_counters_exact(message.thread)
    assert_counters_exact(group)


def test_deactivate_sender_deactivates_through_the_service_and_closes_their_reports(admin_client):
    first, second = make_reports(2)
    response = run_action(admin_client, "deactivate_sender", [first])
    assert "Deactivated 1 account(s)." in response.content.decode()
    assert User.objects.get(pk=first.sender_id).is_active is False
    assert User.objects.get(pk=second.sender_id).is_active is True
    assert Report.objects.get(pk=first.pk).status == "sender_deactivated"
    assert Report.objects.get(pk=second.pk).status == "open"
    # The message stays (staff may delete it too).
    assert Message.objects.filter(pk=first.message_id).exists()


def test_staff_cannot_add_or_delete_reports(admin_client):
    [report] = make_reports(1)
    assert admin_client.get(reverse("admin:safety_report_add")).status_code == 403
    assert admin_client.get(reverse("admin:safety_report_delete", args=[report.pk])).status_code == 403


def test_the_blocks_list_renders(admin_client, alice, bob):
    safety_services.block_user(blocker=alice, blocked=bob)
    response = admin_client.get(reverse("admin:safety_block_changelist"))
    assert response.status_code == 200
    assert Block.objects.count() == 1
    assert "alice" in response.content.decode()
