"""HTTP representations. Input serializers parse and check types; the rules
themselves live in `services`. `sender` and `thread` are never read from a
request body: they come from the authenticated user and the URL."""

import unicodedata

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.utils.serializer_helpers import ReturnDict

from accounts.services import check_new_username

from . import presence
from .models import Membership, Message, Thread
from .rendering import (
    UserSummary,
    display_name,
    render_membership,
    render_message,
    render_reader,
    render_thread,
    render_user_summary,
)
from .selectors import MAX_ID
from .services import check_message_text

User = get_user_model()


class StrictStringMixin:
    """Accept only JSON strings: DRF's own string fields turn 42 into "42"."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictCharField(StrictStringMixin, serializers.CharField):
    pass


class StrictEmailField(StrictStringMixin, serializers.EmailField):
    pass


class StrictIntegerField(serializers.IntegerField):
    """Accept only JSON integers: DRF's IntegerField takes "2" and 2.0 too."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


# The hot read serializers (users, messages, threads, members) render with
# `rendering`, by hand; their declared fields describe them for the schema,
# and a test holds each rendering equal to what the declared fields give.


class UserNameSerializer(serializers.ModelSerializer):
    """A user's name as others see it: in the export (no presence there)."""

    display_name = serializers.SerializerMethodField(
        help_text="First and last name joined by a space, or the username when both are empty."
    )

    class Meta:
        model = User
        fields = ["id", "username", "display_name"]

    def get_display_name(self, instance) -> str:
        return display_name(instance.first_name, instance.last_name, instance.username)

    def to_representation(self, instance):
        return render_user_summary(instance)


class UserSummarySerializer(UserNameSerializer):
    """A user as others see them, wherever one appears (participants,
    senders, members, readers, search results, events), with their presence
    (filled in for the whole response at once by threads.presence.annotate)."""

    is_online = serializers.SerializerMethodField(
        help_text="At least one of their WebSockets is open (on any server process)."
    )
    last_seen = serializers.SerializerMethodField(
        help_text="When their last WebSocket closed; null while online or if never seen."
    )

    class Meta(UserNameSerializer.Meta):
        fields = [*UserNameSerializer.Meta.fields, "is_online", "last_seen"]

    def get_is_online(self, instance) -> bool:
        return presence.states([instance.pk])[instance.pk].is_online

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_last_seen(self, instance):
        return presence.render_time(presence.states([instance.pk])[instance.pk].last_seen)

    @property
    def data(self):
        # One user at the top of a response (GET /api/users/<id>/): still a
        # UserSummary, so that the renderer's presence.annotate finds it.
        return UserSummaryData(super().data, serializer=self)


class UserSummaryData(ReturnDict, UserSummary):
    pass


class UserSerializer(serializers.ModelSerializer):
    """The caller's own account, and the answer to registration."""

    display_name = serializers.SerializerMethodField(
        help_text="How others see you: first and last name, or the username when both are empty."
    )

    class Meta:
        model = User
        fields = ["id", "username", "email", "first_name", "last_name", "display_name"]

    def get_display_name(self, instance) -> str:
        return display_name(instance.first_name, instance.last_name, instance.username)


# Characters a name shown to others may not hold: control characters, and
# the bidirectional overrides and isolates that make text read backwards.
SPOOFING_CHARACTERS = {chr(c) for c in [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]}


def check_shown_name(value: str) -> str:
    if any(unicodedata.category(char) == "Cc" or char in SPOOFING_CHARACTERS for char in value):
        raise serializers.ValidationError("Control and text-direction characters are not allowed.")
    return value


class AccountUpdateSerializer(serializers.Serializer):
    """PATCH /api/users/me/: any of these; the username cannot change."""

    email = StrictEmailField(required=False, allow_blank=True, max_length=254)
    first_name = StrictCharField(required=False, allow_blank=True, max_length=150, validators=[check_shown_name])
    last_name = StrictCharField(required=False, allow_blank=True, max_length=150, validators=[check_shown_name])

    def validate(self, attrs):
        if "username" in self.initial_data:
            raise serializers.ValidationError({"username": ["The username cannot be changed."]})
        return attrs

    def update(self, instance, validated_data):
        for name, value in validated_data.items():
            setattr(instance, name, value)
        if validated_data:
            instance.save(update_fields=list(validated_data))
        return instance


class PasswordChangeSerializer(serializers.Serializer):
    """POST /api/users/me/password/ (the view puts the caller in the context as `user`)."""

    old_password = StrictCharField(trim_whitespace=False, max_length=128, write_only=True)
    new_password = StrictCharField(
        trim_whitespace=False, max_length=128, write_only=True, help_text="Django's password validators apply."
    )

    def validate_old_password(self, value: str) -> str:
        if not self.context["user"].check_password(value):
            raise serializers.ValidationError("Wrong password.")
        return value

    def validate_new_password(self, value: str) -> str:
        try:
            validate_password(value, user=self.context["user"])
        except DjangoValidationError as exc:
            raise serializers.ValidationError(list(exc.messages)) from None
        return value


class AccountDeleteSerializer(serializers.Serializer):
    """DELETE /api/users/me/: the caller's password, as a confirmation (the view puts the caller in the context)."""

    password = StrictCharField(trim_whitespace=False, max_length=128, write_only=True)

    def validate_password(self, value: str) -> str:
        if not self.context["user"].check_password(value):
            raise serializers.ValidationError("Wrong password.")
        return value


class UserRegistrationSerializer(serializers.ModelSerializer):
    username = StrictCharField(
        max_length=150, validators=[UnicodeUsernameValidator()], help_text="Letters, digits and @/./+/-/_ only."
    )
    # min_length mirrors MinimumLengthValidator (validate_password checks the rest).
    password = StrictCharField(
        write_only=True,
        trim_whitespace=False,
        min_length=8,
        max_length=128,
        error_messages={"min_length": "This password is too short. It must contain at least 8 characters."},
    )
    email = StrictEmailField(required=False, allow_blank=True, max_length=254)

    class Meta:
        model = User
        fields = ["id", "username", "email", "password"]

    def validate_username(self, value: str) -> str:
        # Usernames differ by more than case, form or look-alike characters, so
        # nobody can pose as "alice" in upper case, fullwidth or with a Cyrillic "a" (accounts.usernames).
        try:
            check_new_username(value)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(list(exc.messages)) from None
        return value

    def validate(self, attrs):
        candidate = User(username=attrs["username"], email=attrs.get("email", ""))
        try:
            validate_password(attrs["password"], user=candidate)
        except DjangoValidationError as exc:
            raise serializers.ValidationError({"password": list(exc.messages)}) from None
        return attrs

    def to_representation(self, instance):
        return UserSerializer(instance).data  # the answer is the account

    def create(self, validated_data):
        return User.objects.create_user(
            username=validated_data["username"],
            email=validated_data.get("email", ""),
            password=validated_data["password"],
        )


class ExportAccountSerializer(UserSerializer):
    class Meta(UserSerializer.Meta):
        fields = [*UserSerializer.Meta.fields, "date_joined"]


class ExportThreadSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=Thread.Kind.choices)
    title = serializers.CharField(allow_null=True, help_text="Groups only; null for direct threads.")
    created = serializers.DateTimeField()
    role = serializers.ChoiceField(choices=Membership.Role.choices, help_text="The caller's role in it.")
    joined = serializers.DateTimeField(help_text="When the caller became a member.")
    participants = UserNameSerializer(many=True, help_text="Every member, by joining order.")
    unread_count = serializers.IntegerField(help_text="Messages from others the caller has not read there.")
    last_read_message = serializers.IntegerField(
        allow_null=True, help_text="The id of the newest message the caller has read there, or null."
    )


class ExportMessageSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    thread = serializers.IntegerField()
    text = serializers.CharField()
    created = serializers.DateTimeField()
    is_read = serializers.BooleanField(allow_null=True)
    client_id = serializers.UUIDField(allow_null=True)


class AccountExportSerializer(serializers.Serializer):
    """GET /api/users/me/export/ (documentation only: threads.exports writes the document)."""

    exported = serializers.DateTimeField(help_text="When the export started.")
    account = ExportAccountSerializer()
    threads = ExportThreadSerializer(many=True, help_text="Every thread the caller is a member of, by id.")
    messages = ExportMessageSerializer(
        many=True, help_text="Every message the caller sent, in any thread (also ones they left), oldest first."
    )


class MessageSerializer(serializers.ModelSerializer):
    """A message. In a group (the view puts the members' read positions in
    the context as `read_positions`) it also has `read_count`."""

    sender = UserSummarySerializer(read_only=True)
    thread = serializers.PrimaryKeyRelatedField(read_only=True)
    is_read = serializers.BooleanField(
        read_only=True,
        help_text="Direct thread: the recipient has read it. Group: every other current member has.",
    )
    # Not read_only: the schema then lists it as optional (it is absent from direct messages).
    read_count = serializers.IntegerField(
        required=False, help_text="Groups only: how many other current members have read it."
    )

    class Meta:
        model = Message
        fields = ["id", "thread", "sender", "text", "created", "is_read", "read_count", "client_id"]
        read_only_fields = fields

    def to_representation(self, instance):
        return render_message(instance, self.context.get("read_positions"))


class StrictUUIDField(StrictStringMixin, serializers.UUIDField):
    """Accept only a UUID written as a JSON string: DRF's UUIDField turns 42 into a UUID."""


class MessageTextSerializer(serializers.Serializer):
    """The body of sending or editing a message: its text and nothing else."""

    text = StrictCharField(help_text="1 to CHAT_MESSAGE_MAX_LENGTH (default 5000) characters.")

    def validate_text(self, value: str) -> str:
        try:
            return check_message_text(value)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages) from None


class MessageCreateSerializer(MessageTextSerializer):
    """The body of sending a message: its text and, optionally, the client's id for it."""

    client_id = StrictUUIDField(
        required=False,
        allow_null=True,
        help_text="A UUID the client makes up for this message. Sending it again returns the "
        "original message (200) instead of storing a second one.",
    )


class MessageBatchSerializer(serializers.Serializer):
    """The body of sending several messages at once (a client's offline queue)."""

    messages = serializers.ListField(
        child=MessageCreateSerializer(),
        min_length=1,
        max_length=settings.CHAT_MESSAGE_BATCH_MAX,
        help_text=f"1 to {settings.CHAT_MESSAGE_BATCH_MAX} messages, stored in this order, all or none. "
        "An item whose client_id was sent before is answered with the original.",
    )


class MarkReadByIdsSerializer(serializers.Serializer):
    """The optional body of marking a thread read: exactly these messages."""

    message_ids = serializers.ListField(
        child=StrictIntegerField(min_value=1, max_value=MAX_ID),
        required=False,
        min_length=1,
        max_length=settings.CHAT_MARK_READ_MAX_IDS,
        help_text=f"1 to {settings.CHAT_MARK_READ_MAX_IDS} ids of messages others sent in this thread. "
        "Without them (no body, or {}), everything is marked read.",
    )


class ThreadSerializer(serializers.ModelSerializer):
    """A thread as listed: expects a thread from `selectors.threads_for_user`
    (its `unread_count` annotation, its users and last message loaded, and
    for a group its `member_preview`)."""

    participants = UserSummarySerializer(
        many=True,
        read_only=True,
        help_text="A direct thread: its two users. A group: up to 5 members (owner first, then by joining "
        "order); all of them are under /members/.",
    )
    title = serializers.CharField(read_only=True, allow_null=True, help_text="Groups only; null for direct threads.")
    last_message = MessageSerializer(read_only=True, allow_null=True)
    unread_count = serializers.IntegerField(read_only=True)
    muted = serializers.BooleanField(
        read_only=True, help_text="The caller muted it: its unread messages do not count in their total."
    )

    class Meta:
        model = Thread
        fields = [
            "id", "kind", "title", "participants", "member_count", "created", "updated", "last_message", "unread_count",
            "muted",
        ]
        read_only_fields = fields

    def to_representation(self, instance):
        return render_thread(instance)


@extend_schema_field({"oneOf": [
    {"type": "integer", "minimum": 1, "maximum": MAX_ID}, {"type": "string", "minLength": 1, "maxLength": 150},
]})
class UserReferenceField(serializers.Field):
    """A user named by id (a JSON integer) or by username (a JSON string)."""

    default_error_messages = {
        "invalid": "Must be a user id (a positive whole number) or a username.",
    }

    def to_internal_value(self, data):
        if isinstance(data, str):
            if not 1 <= len(data) <= 150:
                self.fail("invalid")
            return data
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return StrictIntegerField(min_value=1, max_value=MAX_ID).run_validation(data)

    def to_representation(self, value):
        return value


class ThreadCreateSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(
        choices=Thread.Kind.choices, default=Thread.Kind.DIRECT, help_text="direct (the default) or group."
    )
    title = StrictCharField(
        required=False, allow_blank=True, max_length=1000, help_text="Groups only (required): 1 to 100 characters."
    )
    participants = serializers.ListField(
        child=UserReferenceField(),
        allow_empty=False,
        min_length=1,
        max_length=max(100, settings.CHAT_GROUP_MAX_MEMBERS),
        help_text="User ids or usernames (any case). Direct: the other participant, optionally with "
        "yourself. Group: its members; the caller is the owner whether listed or not.",
    )


class ThreadUpdateSerializer(serializers.Serializer):
    title = StrictCharField(max_length=1000, help_text="The group's new title: 1 to 100 characters.")


class MembershipSerializer(serializers.ModelSerializer):
    user = UserSummarySerializer(read_only=True)
    last_read_message = serializers.IntegerField(
        read_only=True, allow_null=True, help_text="The id of the newest message this member has read."
    )

    class Meta:
        model = Membership
        fields = ["user", "role", "joined", "last_read_message"]
        read_only_fields = fields

    def to_representation(self, instance):
        return render_membership(instance)


class ReaderSerializer(serializers.ModelSerializer):
    user = UserSummarySerializer(read_only=True)
    last_read_message = serializers.IntegerField(read_only=True)

    class Meta:
        model = Membership
        fields = ["user", "last_read_message"]
        read_only_fields = fields

    def to_representation(self, instance):
        return render_reader(instance)


class MemberAddSerializer(serializers.Serializer):
    user = StrictIntegerField(min_value=1, max_value=MAX_ID, help_text="The id of the user to add.")


class MemberRoleSerializer(serializers.Serializer):
    role = serializers.ChoiceField(
        choices=Membership.Role.choices, help_text="owner hands the group over: the old owner becomes an admin."
    )


class MarkedSerializer(serializers.Serializer):
    marked = serializers.IntegerField(help_text="How many messages changed from unread to read.")


class UnreadCountSerializer(serializers.Serializer):
    unread_count = serializers.IntegerField()


class PingSerializer(serializers.Serializer):
    user_id = serializers.IntegerField(help_text="The id of the user the token belongs to.")


class HealthSerializer(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=["ok", "degraded", "unavailable"],
        help_text="unavailable: the database is down (503); degraded: only Redis is (200: sends still work).",
    )
    database = serializers.ChoiceField(choices=["ok", "unreachable"])
    redis = serializers.ChoiceField(
        choices=["ok", "unreachable", "not_configured"], help_text="not_configured: no REDIS_URL (in-memory)."
    )
