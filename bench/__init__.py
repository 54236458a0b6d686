"""The benchmark harness (issue 7): the app against its peers, as ratios within one run.

Entry point: ``python -m bench`` (``make bench``, full run) and ``python -m bench --quick``
(``make bench-quick``). See ``bench/README.md`` for the method, the peers and the outputs
(``bench/results/latest.json``, ``latest.md``, ``latest.png``).
"""
