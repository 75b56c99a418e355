"""The six endpoints, written the obvious way: no counters, no locks, no
events, no throttles, no idempotency."""

from django.shortcuts import get_object_or_404
from rest_framework import generics
from rest_framework.response import Response
from rest_framework.views import APIView

from .models import Message, Thread
from .serializers import MessageSerializer, ThreadSerializer


class PingView(APIView):
    def get(self, request):
        return Response({"user_id": request.user.pk})


class ThreadList(generics.ListAPIView):
    serializer_class = ThreadSerializer

    def get_queryset(self):
        return self.request.user.plain_threads.order_by("-updated")


class MessageList(generics.ListCreateAPIView):
    serializer_class = MessageSerializer

    def get_thread(self):
        return get_object_or_404(Thread, pk=self.kwargs["pk"], participants=self.request.user)

    def get_queryset(self):
        return self.get_thread().messages.order_by("-created")

    def perform_create(self, serializer):
        serializer.save(thread=self.get_thread(), sender=self.request.user)


class MarkRead(APIView):
    def post(self, request, pk):
        thread = get_object_or_404(Thread, pk=pk, participants=request.user)
        marked = thread.messages.filter(is_read=False).exclude(sender=request.user).update(is_read=True)
        return Response({"marked": marked})


class UnreadCount(APIView):
    def get(self, request):
        unread = Message.objects.filter(thread__participants=request.user, is_read=False).exclude(sender=request.user)
        return Response({"unread": unread.count()})
