"""What a caller may touch: all applications or some, and whether it may create or delete them.

The wire layer learns this from the caller's access key; the provider enforces it on every
operation. A refusal is 403 whether or not the application exists, so a key learns nothing
about applications that are not its own.
"""

from __future__ import annotations

from dataclasses import dataclass

from openpinpoint.core.errors import Forbidden


@dataclass(frozen=True)
class Access:
    admin: bool = True
    """May create and delete applications."""
    apps: frozenset[str] | None = None
    """The application ids this caller may use; None means every application."""

    def may_use(self, app_id: str) -> bool:
        return self.apps is None or app_id in self.apps

    def require_app(self, app_id: str) -> None:
        if not self.may_use(app_id):
            raise Forbidden(f"This access key may not use application {app_id!r}")

    def require_admin(self, what: str) -> None:
        if not self.admin:
            raise Forbidden(f"Only an admin access key may {what}")


FULL_ACCESS = Access()
