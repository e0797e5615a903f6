"""Who is calling: the same shape whether claims came from Cognito or a dev token."""
from __future__ import annotations

from dataclasses import dataclass

ADMIN_GROUP = "admin"


@dataclass(frozen=True)
class Principal:
    user_id: str
    groups: tuple[str, ...] = ()
    email: str | None = None

    @property
    def is_admin(self) -> bool:
        return ADMIN_GROUP in self.groups

    @property
    def actor(self) -> str:
        """How audit entries name this caller."""
        return f"{'admin' if self.is_admin else 'user'}:{self.user_id}"

