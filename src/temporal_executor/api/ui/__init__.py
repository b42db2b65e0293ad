"""The web console at `/ui`: pages to watch tasks, decide tool calls, start tasks and see
schedules.

The pages are HTML shells and static assets (plain JavaScript modules, CSS) shipped in the
package; they hold no data and need no auth. Everything they show comes from the REST API,
called by the browser with the token the login page keeps in `sessionStorage`.
"""

from __future__ import annotations

from .pages import mount_ui

__all__ = ["mount_ui"]
