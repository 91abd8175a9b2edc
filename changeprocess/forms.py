"""The form renderer (settings.FORM_RENDERER).

Django's own widgets (inputs, selects, error lists, field groups) are drawn from their
Jinja2 templates, which Django ships beside the Django-language ones and which render the
same markup several times faster: a list's filter form, with its selects of statuses and
staff, was about a sixth of the ticket queue's time (issue 13, docs/benchmarks.md). A
widget that has only a Django-language template (the admin's) is drawn from that."""

from __future__ import annotations

from typing import Any

from django.forms.renderers import DjangoTemplates, Jinja2
from django.template import TemplateDoesNotExist


class WidgetRenderer(Jinja2):
    fallback = DjangoTemplates()

    def get_template(self, template_name: str) -> Any:
        try:
            return super().get_template(template_name)
        except TemplateDoesNotExist:
            return self.fallback.get_template(template_name)
