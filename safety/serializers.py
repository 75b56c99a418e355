"""HTTP representations of reports (users are threads.serializers.UserSummarySerializer)."""

from rest_framework import serializers

from threads.serializers import StrictCharField

from .models import Report
from .services import NOTE_MAX_LENGTH


class ReportCreateSerializer(serializers.Serializer):
    reason = serializers.ChoiceField(choices=Report.Reason.choices, help_text="spam, harassment or other.")
    note = StrictCharField(
        required=False, allow_blank=True, max_length=NOTE_MAX_LENGTH, trim_whitespace=False,
        help_text=f"Optional, at most {NOTE_MAX_LENGTH} characters: anything staff should know.",
    )


class ReportSerializer(serializers.ModelSerializer):
    text = serializers.CharField(read_only=True, help_text="The message's text when it was reported.")
    message = serializers.IntegerField(source="message_id", read_only=True)
    thread = serializers.IntegerField(source="thread_id", read_only=True)

    class Meta:
        model = Report
        fields = ["id", "thread", "message", "reason", "note", "text", "created", "status"]
        read_only_fields = fields
