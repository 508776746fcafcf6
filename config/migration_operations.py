"""Migration operations shared by the apps' migrations (no app of its own to live in)."""

from django.db import migrations


class AddIndexOnline(migrations.AddIndex):
    """CREATE INDEX CONCURRENTLY on PostgreSQL: a shop with a year of rows keeps taking orders
    while the index is built (the migration is not atomic for that). A plain CREATE INDEX
    elsewhere (SQLite in development)."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        model = to_state.apps.get_model(app_label, self.model_name)
        if self.allow_migrate_model(schema_editor.connection.alias, model):
            schema_editor.add_index(model, self.index, **_online(schema_editor))

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        model = from_state.apps.get_model(app_label, self.model_name)
        if self.allow_migrate_model(schema_editor.connection.alias, model):
            schema_editor.remove_index(model, self.index, **_online(schema_editor))


def _online(schema_editor) -> dict[str, bool]:
    """`concurrently=True` where the database builds and drops an index without blocking
    writes (PostgreSQL's schema editor takes it; others have no such argument)."""
    return {"concurrently": True} if schema_editor.connection.vendor == "postgresql" else {}
