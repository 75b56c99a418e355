from django.apps import AppConfig
from django.conf import settings
from django.db.models.signals import post_migrate, pre_delete, pre_migrate


class ThreadsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "threads"

    def ready(self):
        from . import db_views

        pre_migrate.connect(db_views.before_migrate, sender=self)
        post_migrate.connect(db_views.after_migrate, sender=self)
        pre_delete.connect(delete_threads_of_user, sender=settings.AUTH_USER_MODEL, dispatch_uid="threads-of-user")


def delete_threads_of_user(sender, instance, **kwargs):
    """A user is being deleted (the admin, the ORM): delete their threads through
    the service first, which locks each thread before its messages as every
    write does, and tells the other participant. Django's own cascade would
    delete them without locks, racing sends, and silently."""
    from django.db.models import Q

    from . import services
    from .models import Thread

    services.threads_delete(threads=Thread.objects.filter(Q(user_low=instance) | Q(user_high=instance)))
