"""Where every piece of the cache lives in the key space.

All keys start with ``{<namespace>}:``. The braces are a Redis Cluster hash
tag: every key of one cache namespace maps to the same slot, so the Lua
scripts that check a tag's generation and store an entry in one atomic step
work on a cluster too (sessions and rate-limit keys, which use other prefixes,
still spread over the cluster). Nothing outside the namespace is ever read,
written, scanned or deleted by the cache.

Per-epoch keys (an epoch is a random token; moving to a new epoch makes every
older key unreachable at once):

==================  =====================================================
``e:<ep>:<name>``   an entry (a ``Record``)
``l:<ep>:<name>``   the single-flight lock of that entry
``g:<ep>``          the invalidation generation, +1 per invalidation
``t:<ep>:<tag>``    generation at which ``tag`` was last invalidated
``m:<ep>:<tag>``    set of entry keys that carry ``tag``
==================  =====================================================

Global keys: ``epoch`` (current epoch), ``seq`` (highest journal id applied),
``toggles`` (hash: endpoint -> JSON state), ``toggles:v`` (version counter),
``stats`` (hash: counters).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Layout:
    namespace: str = "rc"

    def __post_init__(self) -> None:
        if not self.namespace or any(c in self.namespace for c in "{}*?[] \n"):
            raise ValueError(f"invalid cache namespace {self.namespace!r}")

    @property
    def prefix(self) -> str:
        return "{" + self.namespace + "}:"

    def entry(self, epoch: str, name: str) -> str:
        return f"{self.prefix}e:{epoch}:{name}"

    def lock(self, epoch: str, name: str) -> str:
        return f"{self.prefix}l:{epoch}:{name}"

    def generation(self, epoch: str) -> str:
        return f"{self.prefix}g:{epoch}"

    def tag_generation(self, epoch: str, tag: str) -> str:
        return f"{self.prefix}t:{epoch}:{tag}"

    def members(self, epoch: str, tag: str) -> str:
        return f"{self.prefix}m:{epoch}:{tag}"

    @property
    def epoch(self) -> str:
        return f"{self.prefix}epoch"

    @property
    def seq(self) -> str:
        return f"{self.prefix}seq"

    @property
    def toggles(self) -> str:
        return f"{self.prefix}toggles"

    @property
    def toggles_version(self) -> str:
        return f"{self.prefix}toggles:v"

    @property
    def stats(self) -> str:
        return f"{self.prefix}stats"

    def name_of(self, entry_key: str) -> str:
        """The entry name inside an ``entry`` key (``{rc}:e:<epoch>:<name>``)."""
        _, _, rest = entry_key.removeprefix(self.prefix + "e:").partition(":")
        return rest

    def entry_pattern(self, glob: str = "*") -> str:
        """A SCAN MATCH pattern confined to this namespace's entries."""
        return f"{self.prefix}e:*:{glob}"
