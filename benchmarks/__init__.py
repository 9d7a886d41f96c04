"""Speed measured beside the alternatives: ``python -m benchmarks [--device cpu|cuda] [--quick] [--json OUT]``.

Each entry of :data:`benchmarks.registry.BENCHMARKS` is a module with ``run(device: str = "cpu", quick: bool = False) -> dict``
that times ours and its peer side by side in this process and returns (see :func:`benchmarks.common.result`)::

    {"unit": "image", "ms_per_unit": {contender: ms}, "ratio": ours / theirs, "ratios": {...},
     "headline": key of ratios, "peer": "...", "settings": {...}, "notes": "...", ...}

``ratio`` is ours / theirs in time per unit: below 1 ours is faster.
"""
