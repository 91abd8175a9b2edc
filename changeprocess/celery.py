import os

from celery import Celery
from celery.signals import setup_logging

# Same default as manage.py and wsgi.py; containers set DJANGO_SETTINGS_MODULE explicitly.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "changeprocess.settings.local")

app = Celery("changeprocess")
# Every CELERY_* Django setting configures Celery (CELERY_BROKER_URL -> broker_url, ...).
app.config_from_object("django.conf:settings", namespace="CELERY")
# Finds notifications/tasks.py (sending, reminders, the sweep); beat's schedule for them is
# CELERY_BEAT_SCHEDULE in settings/base.py.
app.autodiscover_tasks()


@setup_logging.connect
def _keep_django_logging(**kwargs: object) -> None:
    # Having a receiver stops Celery from installing its own plain-text handlers, so the
    # worker and beat log through Django's LOGGING (one JSON object per line in production).
    pass
