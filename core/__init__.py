"""Atrium CRM core: the framework every plugin, built-in or third-party, stands on.

The public surface for plugin authors is re-exported here: the hook markers and the
value types hooks return. Everything else is reached through ``core.<module>``.
"""

__version__ = "0.1.0"

from core.app import create_app  # noqa: E402
from core.errors import StartupError  # noqa: E402
from core.hooks import MenuItem, Permission, RoleExtension, RoleTemplate, Setting, hookimpl, hookspec  # noqa: E402
from core.hooks import DashboardWidget, EventRecord, OutboxHandler, PeriodicTask, SearchResult  # noqa: E402
from core.hooks import RecordAction, RecordPanel, TimelineEntry  # noqa: E402
from core.hooks import BenchmarkPage, BenchmarkTask  # noqa: E402
from core.hooks import ImportContext, ImportField, ImportKey, ImportTarget  # noqa: E402

__all__ = [
    "BenchmarkPage",
    "BenchmarkTask",
    "DashboardWidget",
    "EventRecord",
    "ImportContext",
    "ImportField",
    "ImportKey",
    "ImportTarget",
    "MenuItem",
    "OutboxHandler",
    "PeriodicTask",
    "Permission",
    "RecordAction",
    "RecordPanel",
    "RoleExtension",
    "RoleTemplate",
    "SearchResult",
    "Setting",
    "StartupError",
    "TimelineEntry",
    "__version__",
    "create_app",
    "hookimpl",
    "hookspec",
]
