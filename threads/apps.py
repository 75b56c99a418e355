from django.apps import AppConfig
from django.conf import settings
from django.core.signals import request_finished, request_started
from django.db.models.signals import pre_delete


class ThreadsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "threads"

    def ready(self):
        from . import presence

        pre_delete.connect(remove_user_from_threads, sender=settings.AUTH_USER_MODEL, dispatch_uid="threads-of-user")
        request_started.connect(presence.start_request, dispatch_uid="presence-request-started")
        request_finished.connect(presence.end_request, dispatch_uid="presence-request-finished")


def remove_user_from_threads(sender, instance, **kwargs):
    """A user is being deleted (the admin, the ORM): delete their direct threads
    and take them out of their groups through the services first, which lock
    each thread before its messages as every write does and tell the other
    members. Django's own cascade would do it without locks, racing sends,
    leaving groups without an owner, and silently."""
    from . import services

    services.user_remove_from_all_threads(user=instance)
