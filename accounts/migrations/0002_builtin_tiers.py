from django.db import migrations

BUILTIN_TIERS = [
    {"name": "Basic", "thumbnail_heights": [200]},
    {"name": "Premium", "thumbnail_heights": [200, 400], "can_link_original": True},
    {
        "name": "Enterprise",
        "thumbnail_heights": [200, 400],
        "can_link_original": True,
        "can_make_expiring_links": True,
    },
]


def create_builtin_tiers(apps, schema_editor):
    Tier = apps.get_model("accounts", "Tier")
    for fields in BUILTIN_TIERS:
        name = fields["name"]
        Tier.objects.get_or_create(name=name, defaults=fields)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial")]

    operations = [migrations.RunPython(create_builtin_tiers, migrations.RunPython.noop)]
