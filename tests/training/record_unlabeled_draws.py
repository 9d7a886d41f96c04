"""train.py, noting each unlabelled sample the process draws (its stream's (index, seed) pairs) in
``$UNLABELED_DRAWS/rank<R>.jsonl``: the torchrun test reads them to see each process draw its own shard."""

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import train  # noqa: E402
from utils.data.unlabeled_dataset import StreamSampler  # noqa: E402

_iterate = StreamSampler.__iter__


def _recording(self):
    path = Path(os.environ["UNLABELED_DRAWS"]) / f"rank{self.rank}.jsonl"
    for pair in _iterate(self):
        with path.open("a") as f:  # the loader takes the samples of a batch as it is drawn (no worker prefetch)
            f.write(json.dumps(pair) + "\n")
        yield pair


StreamSampler.__iter__ = _recording

if __name__ == "__main__":
    sys.exit(train.run_main(train.main))
