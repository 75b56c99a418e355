from django.apps import AppConfig
from django.db.models.signals import post_migrate, pre_migrate


class ThreadsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "threads"

    def ready(self):
        from . import db_views

        pre_migrate.connect(db_views.before_migrate, sender=self)
        post_migrate.connect(db_views.after_migrate, sender=self)
