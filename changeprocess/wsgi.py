import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "changeprocess.settings.local")

application = get_wsgi_application()

# What is loaded by now (Django, the apps, the URL conf) lives as long as the process: the
# garbage collector need not walk it again at every collection during requests, and the
# workers gunicorn forks after --preload keep sharing its memory pages (Python's gc docs:
# freeze before fork). About 1-3 ms less a page (issue 13).
gc.freeze()
