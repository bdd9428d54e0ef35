"""The web dashboard: the viewer's memories, search with its explanations, the profile and
its history, the entity graph and housekeeping, as server-rendered pages at ``/ui/``.

Served by the HTTP app itself, over the same :class:`~memvault.interfaces.runtime.Runtime`
(same stores, same core operations) as MCP and REST; every asset ships in the package.
Safety rules are :mod:`.security`'s.
"""

from memvault.interfaces.dashboard.routes import dashboard_routes

__all__ = ["dashboard_routes"]
