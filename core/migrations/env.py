"""Alembic environment for Atrium CRM: the engine and metadata come from the application."""

from alembic import context

from core.db import Base, get_database
from core.migrate import compared
from core.textsearch import repair_text_indexes

config = context.config
app = config.attributes["crm_app"]
# Set by `crm db revision`: the branch being generated and which branch owns each model table.
plugin = config.attributes.get("crm_autogenerate_plugin")
table_owners = config.attributes.get("crm_autogenerate_tables", {})


def include_object(obj, name, type_, reflected, compare_to):  # type: ignore[no-untyped-def]
    """When generating a plugin's revision, look only at that plugin's tables.

    A table the models declare belongs to the plugin that defines the model; a table only
    the database has (its model was deleted) belongs to the plugin whose name prefixes it,
    unless another plugin's model owns it.
    """
    if plugin is None:
        return True
    table_name = obj.name if type_ == "table" else getattr(getattr(obj, "table", None), "name", "")
    if not table_name or table_name == "alembic_version":
        return False
    if table_name in table_owners:
        return table_owners[table_name] == plugin
    return table_name.startswith(f"{plugin}_")


def configure(**kwargs) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        target_metadata=Base.metadata,
        include_object=include_object,
        include_name=compared,  # text-search indexes are made by migrations, not by models
        compare_type=True,
        # SQLite cannot ALTER most things; batch mode copies the table instead.
        render_as_batch=True,
        **kwargs,
    )


if context.is_offline_mode():
    configure(url=str(get_database(app).engine.url), literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    with get_database(app).engine.connect() as connection:
        configure(connection=connection)
        with context.begin_transaction():
            context.run_migrations()
            # A SQLite batch operation that copied a table dropped its text index's triggers.
            repair_text_indexes(connection)
        connection.commit()
