"""Match the Aura app's EF migration 20251101230642_AddUserSetupTable.

Creates ``templates`` and ``user_setup`` (snake_case names, as the app maps
them) with their seven indexes, the one on ``user_setup.user_id`` unique.
"""

import peewee as pw

from aura_db import ddl
from aura_db.fields import JsonField, StringField, TimestampField

EF_MIGRATION_ID = "20251101230642_AddUserSetupTable"


class Model(pw.Model):
    pass


class Template(Model):
    id = StringField(column_name="id", primary_key=True, key=True)
    name = StringField(200, column_name="name")
    description = StringField(1000, column_name="description")
    category = StringField(50, column_name="category")
    sub_category = StringField(100, column_name="sub_category")
    preview_image = StringField(500, column_name="preview_image")
    preview_video = StringField(500, column_name="preview_video")
    tags = StringField(500, column_name="tags")
    template_data = JsonField(column_name="template_data")
    created_at = TimestampField(column_name="created_at")
    updated_at = TimestampField(column_name="updated_at")
    author = StringField(200, column_name="author")
    is_system_template = pw.BooleanField(column_name="is_system_template")
    is_community_template = pw.BooleanField(column_name="is_community_template")
    usage_count = pw.IntegerField(column_name="usage_count")
    rating = pw.DoubleField(column_name="rating")
    rating_count = pw.IntegerField(column_name="rating_count")

    class Meta:
        table_name = "templates"


ddl.add_indexes(Template, [
    ("IX_templates_category", "category"),
    ("IX_templates_category_sub_category", "category sub_category"),
    ("IX_templates_is_community_template", "is_community_template"),
    ("IX_templates_is_system_template", "is_system_template"),
])


class UserSetup(Model):
    id = StringField(column_name="id", primary_key=True, key=True)
    user_id = StringField(100, column_name="user_id")
    completed = pw.BooleanField(column_name="completed")
    completed_at = TimestampField(column_name="completed_at", null=True)
    version = StringField(20, column_name="version", null=True)
    last_step = pw.IntegerField(column_name="last_step")
    updated_at = TimestampField(column_name="updated_at")
    selected_tier = StringField(50, column_name="selected_tier", null=True)
    wizard_state = JsonField(column_name="wizard_state", null=True)

    class Meta:
        table_name = "user_setup"


ddl.add_indexes(UserSetup, [
    ("IX_user_setup_completed", "completed"),
    ("IX_user_setup_updated_at", "updated_at"),
    ("IX_user_setup_user_id", "user_id", True),
])


MODELS = [Template, UserSetup]


def migrate(migrator, database, *, fake=False):
    for model in MODELS:
        ddl.create_table(migrator, database, model)
    ddl.record_ef_migration(migrator, database, EF_MIGRATION_ID)


def rollback(migrator, database, *, fake=False):
    ddl.forget_ef_migration(migrator, database, EF_MIGRATION_ID)
    for model in reversed(MODELS):
        ddl.drop_table(migrator, database, model._meta.table_name)
