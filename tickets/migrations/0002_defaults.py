"""The environments of WORKFLOW.md and the default checklist of §2.3 item 9."""

from django.db import migrations

ENVIRONMENTS = [("uat", "UAT", 1), ("production", "Production", 2)]
CHECKLIST = ["Unit tests", "Regression testing", "Progression testing", "Performance testing"]


def forwards(apps, schema_editor):
    Environment = apps.get_model("tickets", "Environment")
    ChecklistTemplateItem = apps.get_model("tickets", "ChecklistTemplateItem")
    for code, name, position in ENVIRONMENTS:
        Environment.objects.get_or_create(code=code, defaults={"name": name, "position": position})
    if not ChecklistTemplateItem.objects.filter(organization__isnull=True).exists():
        for position, label in enumerate(CHECKLIST, start=1):
            ChecklistTemplateItem.objects.create(label=label, position=position)


class Migration(migrations.Migration):
    dependencies = [("tickets", "0001_initial")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
