"""Built-in sample data: deterministic synthetic streets in the real Cityscapes and KITTI road layouts.

Run ``python -m utils.sample_data --out data/sample`` to write ``data/sample/cityscapes`` and
``data/sample/kitti``. The same seed always gives byte-identical files.
"""

from utils.sample_data.generate import SAMPLE_VERSION, SampleSpec, generate_sample

__all__ = ["SAMPLE_VERSION", "SampleSpec", "generate_sample"]
