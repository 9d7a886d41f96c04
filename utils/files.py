"""Files the toolkit writes: strict JSON and atomic replacement (write a temporary file, fsync, rename)."""

import json
import math
import os
from pathlib import Path


def json_safe(obj):
    """NaN (a class with no pixels) becomes null, so metrics files are strict JSON for jq and browsers."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    return obj


def to_json(data) -> str:
    return json.dumps(json_safe(data), indent=2, allow_nan=False)


def atomic_write_text(path, text: str) -> None:
    """Readers never see the file half-written."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
