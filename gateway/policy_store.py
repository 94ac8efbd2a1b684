"""The access policy shared through the database: pushed, validated versions; newest wins.

``dlp-gateway policy push`` validates the policy files exactly as a gateway would, then
stores their texts as a new row of ``policy_versions``; every replica polls the newest
row's id (``PolicyWatcher``) and swaps the new policy in. Rows are never updated, so the
table is also the history of who pushed which version when.

Why not a Casbin adapter (``casbin-sqlalchemy-adapter``): its ``casbin_rule`` table has
six value columns and our route rows have seven (sub, dom, obj, act, eft, nbf, exp); it
creates its table outside our migrations; and it loads rows into an enforcer one by one,
bypassing the validation (``policies.rules``, ``policies.casbin_model``) that every policy
must pass before it replaces a running one.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, fields

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping

from policies.access import AccessPolicy, PolicyError, PolicyFiles
from reports.database import Database

__all__ = ["PolicyStore", "StoredPolicy"]

_TABLE = sa.Table(
    "policy_versions", sa.MetaData(),
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("version", sa.String(64)), sa.Column("model_text", sa.Text),
    sa.Column("policy_text", sa.Text), sa.Column("grouping_text", sa.Text),
    sa.Column("pushed_at", sa.Float), sa.Column("pushed_by", sa.Text),
)
_C = _TABLE.c


@dataclass(frozen=True, slots=True)
class StoredPolicy:
    """One pushed policy version."""

    id: int
    version: str
    model_text: str
    policy_text: str
    grouping_text: str | None
    pushed_at: float
    pushed_by: str

    @classmethod
    def from_row(cls, row: RowMapping) -> StoredPolicy:
        return cls(**{f.name: row[f.name] for f in fields(cls)})

    def sources(self) -> list[tuple[str, str]]:
        found = [("policy.csv", self.policy_text)]
        if self.grouping_text is not None:
            found.append(("grouping.csv", self.grouping_text))
        return found

    def load_into(self, policy: AccessPolicy) -> tuple[bool, str]:
        return policy.load_texts(self.model_text, self.sources())


def _texts(files: PolicyFiles) -> tuple[str, str, str | None]:
    try:
        return (files.model.read_text(encoding="utf-8"),
                files.policy.read_text(encoding="utf-8"),
                None if files.grouping is None else files.grouping.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(f"cannot read the policy files: {exc}") from exc


class PolicyStore:
    """Synchronous (the watcher polls from a thread; the CLI is synchronous)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def head(self) -> tuple[int, str] | None:
        """(id, version) of the newest pushed policy, or None when nothing was pushed."""
        query = sa.select(_C.id, _C.version).order_by(_C.id.desc()).limit(1)
        with self._db.read() as conn:
            row = conn.execute(query).first()
        return None if row is None else (int(row[0]), str(row[1]))

    def latest(self) -> StoredPolicy | None:
        query = sa.select(_TABLE).order_by(_C.id.desc()).limit(1)
        with self._db.read() as conn:
            row = conn.execute(query).mappings().first()
        return None if row is None else StoredPolicy.from_row(row)

    def push(self, files: PolicyFiles, actor: str, *, only_if_empty: bool = False
             ) -> StoredPolicy:
        """Validate ``files`` and store them as the newest version (PolicyError if refused).

        Pushing the version that is already newest stores nothing and returns that row;
        ``only_if_empty`` stores only when the database holds no policy yet (first start).
        """
        model_text, policy_text, grouping_text = _texts(files)
        check = AccessPolicy()
        sources = [("policy.csv", policy_text)]
        if grouping_text is not None:
            sources.append(("grouping.csv", grouping_text))
        ok, message = check.load_texts(model_text, sources)
        if not ok:
            raise PolicyError(message)
        with self._db.begin() as conn:
            newest = conn.execute(
                sa.select(_TABLE).order_by(_C.id.desc()).limit(1)).mappings().first()
            if newest is not None and (only_if_empty or newest["version"] == check.version):
                return StoredPolicy.from_row(newest)
            row = conn.execute(sa.insert(_TABLE).values(
                version=check.version, model_text=model_text, policy_text=policy_text,
                grouping_text=grouping_text, pushed_at=time.time(), pushed_by=actor,
            ).returning(_TABLE)).mappings().one()
        return StoredPolicy.from_row(row)
