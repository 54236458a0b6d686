"""Which release of a third-party distribution is installed, read without importing it.

``installed_release_in(distribution, prefixes)``: True when ``distribution`` is installed and
its version starts with one of ``prefixes`` (``("0.6.",)``: the releases an adapter's author
read); False when it is absent or another release.
"""

from __future__ import annotations

from importlib import metadata


def installed_release_in(distribution: str, prefixes: tuple[str, ...]) -> bool:
    try:
        version = metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return False
    return version.startswith(prefixes)
