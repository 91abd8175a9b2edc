from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Register the Celery tasks in every process (web, worker, beat), so `sending`
        # queues them by name from Celery's registry without importing them.
        from . import tasks  # noqa: F401
