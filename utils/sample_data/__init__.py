"""Built-in sample data: deterministic synthetic streets in the real layout of every dataset family.

Run ``python -m utils.sample_data --out data/sample`` to write ``data/sample/cityscapes``, ``kitti``,
``bdd100k``, ``vistas`` and ``folder``, each from the same renderer. The same seed always gives
byte-identical files.
"""

from utils.sample_data.generate import SAMPLE_VERSION, SampleSpec, generate_sample

__all__ = ["SAMPLE_VERSION", "SampleSpec", "generate_sample"]
