"""The peers: processes the benchmark starts, drives and stops (``bench/peers.py`` in the plan).

``lifecycle`` starts and stops them; ``common``, ``flask_caching_app`` and ``constant_app`` are
the Flask peers' code (run by gunicorn as ``bench.peers.<module>:app``); ``express/`` is the
Node recipe. ``specs`` says which processes make up a run.
"""

from bench.peers.lifecycle import Peer, PeerError, PeerSet, PeerSpec, reap_stale, write_pidfile

__all__ = ["Peer", "PeerError", "PeerSet", "PeerSpec", "reap_stale", "write_pidfile"]
