"""Tags on storage files, kept in the metadata database (``storage_tags``)."""

from __future__ import annotations

from sqlalchemy import ColumnElement, delete, or_, select

from skydock.server.storage.metadata import Database, TagRow


class TagStore:
    """Free-text tags keyed by owner and the path within the owner's space."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def tags(self, owner: str, path: str) -> list[str]:
        with self._db.session() as s:
            rows = s.scalars(
                select(TagRow.tag)
                .where(TagRow.owner == owner, TagRow.path == path)
                .order_by(TagRow.id)
            )
            return list(rows)

    def add(self, owner: str, path: str, tag: str) -> None:
        if tag in self.tags(owner, path):
            return
        with self._db.session() as s:
            s.add(TagRow(owner=owner, path=path, tag=tag))

    def forget(self, owner: str, path: str) -> None:
        """Drop the tags of ``path`` and of everything under it."""
        with self._db.session() as s:
            s.execute(delete(TagRow).where(TagRow.owner == owner, _under(path)))

    def forget_owner(self, owner: str) -> None:
        """Drop every tag of one owner (their account is being wiped)."""
        with self._db.session() as s:
            s.execute(delete(TagRow).where(TagRow.owner == owner))

    def move(self, owner: str, src: str, dst: str) -> None:
        with self._db.session() as s:
            for row in s.scalars(select(TagRow).where(TagRow.owner == owner, _under(src))):
                row.path = dst + row.path[len(src) :]

    def copy(self, owner: str, src: str, dst_owner: str, dst: str) -> None:
        with self._db.session() as s:
            rows = list(s.scalars(select(TagRow).where(TagRow.owner == owner, _under(src))))
            for row in rows:
                s.add(TagRow(owner=dst_owner, path=dst + row.path[len(src) :], tag=row.tag))


def _under(path: str) -> ColumnElement[bool]:
    escaped = path.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return or_(TagRow.path == path, TagRow.path.like(escaped + "/%", escape="\\"))
