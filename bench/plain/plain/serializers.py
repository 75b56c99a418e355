from rest_framework import serializers

from .models import Message, Thread


class MessageSerializer(serializers.ModelSerializer):
    class Meta:
        model = Message
        fields = ["id", "thread", "sender", "text", "created", "is_read"]
        read_only_fields = ["thread", "sender", "created", "is_read"]


class ThreadSerializer(serializers.ModelSerializer):
    last_message = serializers.SerializerMethodField()

    class Meta:
        model = Thread
        fields = ["id", "title", "participants", "created", "updated", "last_message"]

    def get_last_message(self, thread):
        message = thread.messages.order_by("-created").first()
        return MessageSerializer(message).data if message else None
