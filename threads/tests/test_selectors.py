import pytest

from threads import selectors, services


def test_threads_for_user_lists_latest_activity_first_with_last_message_and_unread_count(alice, bob, carol):
    with_bob, _ = services.thread_get_or_create(user=alice, other=bob)
    with_carol, _ = services.thread_get_or_create(user=alice, other=carol)
    services.message_create(thread=with_bob, sender=bob, text="old")
    services.message_create(thread=with_bob, sender=bob, text="new")
    services.message_create(thread=with_bob, sender=alice, text="mine is not unread for me")
    services.message_create(thread=with_carol, sender=carol, text="newest activity")

    threads = selectors.threads_for_user(user=alice)

    assert [t.pk for t in threads] == [with_carol.pk, with_bob.pk]
    assert threads[1].last_message.text == "mine is not unread for me"
    assert threads[1].last_message.sender == alice
    assert threads[1].unread_count == 2
    assert threads[0].unread_count == 1


def test_threads_for_user_shows_nothing_of_other_peoples_threads(thread, message_from_alice, carol):
    assert list(selectors.threads_for_user(user=carol)) == []


def test_last_message_is_none_for_an_empty_thread(thread, alice):
    [listed] = selectors.threads_for_user(user=alice)

    assert listed.last_message is None
    assert listed.unread_count == 0


def test_unread_count_for_user_counts_across_threads_and_ignores_own_and_read_messages(alice, bob, carol):
    with_bob, _ = services.thread_get_or_create(user=alice, other=bob)
    with_carol, _ = services.thread_get_or_create(user=alice, other=carol)
    services.message_create(thread=with_bob, sender=bob, text="1")
    read = services.message_create(thread=with_bob, sender=bob, text="2")
    services.message_create(thread=with_carol, sender=carol, text="3")
    services.message_create(thread=with_carol, sender=alice, text="own")
    services.message_mark_read(message=read, reader=alice)

    assert selectors.unread_count_for_user(user=alice) == 2
    assert selectors.unread_count_for_user(user=bob) == 0
    assert selectors.unread_count_for_user(user=carol) == 1


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1", 1),
        ("9223372036854775807", 2**63 - 1),
        ("9223372036854775808", None),
        ("99999999999999999999", None),
        ("0", None),
        ("-1", None),
        ("abc", None),
        ("\uff11\uff12", None),  # full-width digits: digits to str.isdigit, but not ids
        ("", None),
        (True, None),
        (5, 5),
    ],
)
def test_parse_id_accepts_only_positive_64_bit_ids(raw, expected):
    assert selectors.parse_id(raw) == expected


@pytest.mark.parametrize(("raw", "expected"), [("0", 0), ("-0", None), ("00", 0), (0, 0)])
def test_parse_id_can_start_at_zero_for_offsets(raw, expected):
    assert selectors.parse_id(raw, minimum=0) == expected


def test_thread_get_for_user_gives_the_same_404_for_missing_and_foreign_threads(thread, carol):
    from django.http import Http404

    with pytest.raises(Http404) as foreign:
        selectors.thread_get_for_user(user=carol, thread_id=thread.pk)
    with pytest.raises(Http404) as missing:
        selectors.thread_get_for_user(user=carol, thread_id=thread.pk + 1000)

    assert str(foreign.value) == str(missing.value)
