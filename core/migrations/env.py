"""Alembic environment for Atrium CRM: the engine and metadata come from the application."""

from alembic import context

from core.db import Base, get_database

config = context.config
app = config.attributes["crm_app"]
table_prefix = config.attributes.get("crm_autogenerate_prefix")


def include_object(obj, name, type_, reflected, compare_to):  # type: ignore[no-untyped-def]
    """When generating a plugin's revision, look only at that plugin's tables."""
    if table_prefix is None:
        return True
    table_name = obj.name if type_ == "table" else getattr(getattr(obj, "table", None), "name", "")
    return bool(table_name) and table_name.startswith(table_prefix)


def configure(**kwargs) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        target_metadata=Base.metadata,
        include_object=include_object,
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
        connection.commit()
