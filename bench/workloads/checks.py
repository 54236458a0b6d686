"""Correctness checks made while measuring: cache states, JSON equality across peers.

Contract: ``cache_states(bench, target, paths)`` GETs each path once and returns what the
target said (``"HIT"``, ``"MISS"``, ``None`` = no cache header, ``"error <status>"``).
``all_hits(states)`` is True only when every state is ``"HIT"``. ``compare_peers`` GETs a few
URLs from several targets and reports, per URL, whether every target answered the same status
and the same JSON after ``probe.normalise``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bench import probe
from bench.runner import Bench


def cache_states(bench: Bench, target: str, paths: Sequence[str]) -> list[str | None]:
    peer = bench.peers[target]
    states: list[str | None] = []
    for path in paths:
        try:
            reply = probe.fetch(peer.port, path)
        except OSError as exc:
            states.append(f"error {exc.__class__.__name__}")
            continue
        if reply.status != 200:
            states.append(f"error {reply.status}")
            continue
        states.append(probe.cache_state(reply, peer.spec.cache))
    return states


def all_hits(states: Sequence[str | None]) -> bool:
    return bool(states) and all(s == "HIT" for s in states)


def compare_peers(bench: Bench, targets: Sequence[str], paths: Sequence[str]) -> dict[str, Any]:
    per_url: dict[str, Any] = {}
    for path in paths:
        answers: dict[str, tuple[int, Any]] = {}
        for target in targets:
            try:
                reply = probe.fetch(bench.peers[target].port, path)
            except OSError as exc:
                answers[target] = (0, str(exc))
                continue
            try:
                document = probe.normalise(reply.json()) if reply.status == 200 else None
            except ValueError:
                document = "<not JSON>"
            answers[target] = (reply.status, document)
        reference = next(iter(answers.values()), None)
        differing = [t for t, a in answers.items() if a != reference]
        per_url[path] = {
            "statuses": {t: a[0] for t, a in answers.items()},
            "equal": not differing,
            "differing": differing,
        }
    return {"urls": per_url, "all_equal": all(v["equal"] for v in per_url.values())}
