"""The number of published posts, kept by the database itself.

Contract:
- ``post_counts`` holds at most one row, ``name = 'published'``, whose ``value`` equals
  ``SELECT count(*) FROM posts WHERE published`` in every transaction's view of the data:
  triggers on ``posts`` (insert, delete, update of ``published``; on PostgreSQL truncate
  too) change it in the same transaction as the change of the posts, whoever writes them
  (the services, ``flask seed``, a cascade from a deleted user, an operator's SQL).
- The table, its triggers and its row are created together when the table is created
  (``create_all``, so also by ``flask init-db`` on an older database): the triggers first,
  then the row from a count of the posts, so a post written meanwhile is counted once.
- No row means "not kept": readers count the posts instead (``_query_posts`` in
  ``services/posts.py``). That is always right, only slower.

Why: the public list answers with its total, and counting ~10,000 published posts costs
~250 us on SQLite and ~1 ms on PostgreSQL on every uncached list page, more than the page
and its tags together; this row costs one primary-key read (decision D37). The price is one
row update per published post created, deleted, published or unpublished, and on PostgreSQL
those writers queue on that row until they commit.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Integer, String, event, text
from sqlalchemy.orm import Mapped, mapped_column

from extensions import db
from models.post import Post

PUBLISHED = "published"


class PostCount(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "post_counts"

    name: Mapped[str] = mapped_column(String(20), primary_key=True)
    value: Mapped[int] = mapped_column(Integer, nullable=False)


# The triggers name ``posts``: create_all must create it first.
PostCount.__table__.add_is_dependent_on(Post.__table__)

_BUMP = "UPDATE post_counts SET value = value + ({delta}) WHERE name = 'published';"

_SQLITE_TRIGGERS = (
    "CREATE TRIGGER IF NOT EXISTS post_counts_insert AFTER INSERT ON posts"
    f" WHEN NEW.published BEGIN {_BUMP.format(delta=1)} END",
    "CREATE TRIGGER IF NOT EXISTS post_counts_delete AFTER DELETE ON posts"
    f" WHEN OLD.published BEGIN {_BUMP.format(delta=-1)} END",
    "CREATE TRIGGER IF NOT EXISTS post_counts_update AFTER UPDATE OF published ON posts"
    " WHEN OLD.published IS NOT NEW.published BEGIN"
    f" {_BUMP.format(delta='CASE WHEN NEW.published THEN 1 ELSE -1 END')} END",
)

# One function for every event. TRUNCATE (statement level, fired after every table of the
# statement was emptied, ``post_counts`` included) writes the row back as 0.
_POSTGRES_FUNCTION = """
CREATE OR REPLACE FUNCTION post_counts_track() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    delta integer := 0;
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        INSERT INTO post_counts (name, value) VALUES ('published', 0)
            ON CONFLICT (name) DO UPDATE SET value = 0;
        RETURN NULL;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.published THEN
        delta := delta + 1;
    END IF;
    IF TG_OP IN ('DELETE', 'UPDATE') AND OLD.published THEN
        delta := delta - 1;
    END IF;
    IF delta <> 0 THEN
        UPDATE post_counts SET value = value + delta WHERE name = 'published';
    END IF;
    RETURN NULL;
END
$$
"""

_POSTGRES_TRIGGERS = (
    ("post_counts_insert", "AFTER INSERT", "FOR EACH ROW"),
    ("post_counts_delete", "AFTER DELETE", "FOR EACH ROW"),
    ("post_counts_update", "AFTER UPDATE OF published", "FOR EACH ROW"),
    ("post_counts_truncate", "AFTER TRUNCATE", "FOR EACH STATEMENT"),
)

_FILL = (
    "INSERT INTO post_counts (name, value) SELECT 'published', count(*) FROM posts WHERE published"
)


def _install(_table: Any, connection: Connection, **_kw: Any) -> None:
    dialect = connection.dialect.name
    if dialect == "sqlite":
        for statement in _SQLITE_TRIGGERS:
            connection.execute(text(statement))
    elif dialect == "postgresql":
        connection.execute(text(_POSTGRES_FUNCTION))
        for name, when, each in _POSTGRES_TRIGGERS:
            connection.execute(text(f"DROP TRIGGER IF EXISTS {name} ON posts"))
            connection.execute(
                text(f"CREATE TRIGGER {name} {when} ON posts {each}"
                     " EXECUTE FUNCTION post_counts_track()")
            )  # fmt: skip
    else:
        return  # no triggers on this database: no row, readers count
    connection.execute(text(_FILL))


event.listen(PostCount.__table__, "after_create", _install)
