"""docs/models.md's "adding an architecture" example, run as written: one module and one registry line.

The model section of the config is composed from the registry when the schema is first imported, so the child
process registers the docs' module before anything imports the config, as a module in models/archs/ would be.
"""

import re
import subprocess
import sys

from conftest import ROOT, tiny_overrides

CHILD = """
import sys, types
sys.path.insert(0, {root!r})
import models.archs

probe = types.ModuleType("models.archs.probe")
exec(compile({code!r}, "models/archs/probe.py", "exec"), probe.__dict__)
sys.modules["models.archs.probe"] = probe
models.archs.ARCHITECTURES["probe"] = probe  # the registry line

import eval as eval_script, export, model_summary, train
from utils.config.reference import reference

argv = ["--config_path", "configs/quickstart.yaml", "--set", *{overrides!r}]
assert train.main(argv + ["model.arch=probe", "model.probe_hidden_channels=16"]) == 0
print("resume with another width:", train.run_main(train.main, argv + ["model.arch=probe", "--resume"]))
best = {best!r}
data = "paths.root=" + {data!r}
assert eval_script.main(["--checkpoint", best, "--set", data, "eval.device=cpu", "eval.max_images=0"]) == 0
assert export.main(["--checkpoint", best, "--check_images", "1", "--set", data]) == 0
assert model_summary.main(["--config_path", {config!r}, "--depth", "1"]) == 0
print("reference:", [line for line in reference().splitlines() if "probe_hidden_channels" in line][0])
"""


def test_the_docs_example_is_a_whole_architecture(sample_root, tmp_path):
    docs = (ROOT / "docs" / "models.md").read_text()
    code = re.search(r"```python\n# models/archs/probe.py\n(.*?)```", docs, re.S).group(1)
    run = tmp_path / "run"
    child = CHILD.format(
        root=str(ROOT),
        code=code,
        overrides=tiny_overrides(sample_root, run),
        best=str(run / "best.pth"),
        data=str(sample_root / "cityscapes"),
        config=str(run / "config.yaml"),
    )
    proc = subprocess.run([sys.executable, "-c", child], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "resume with another width: 2" in proc.stdout
    assert "model.probe_hidden_channels is 0 here but 16 in last.pth" in proc.stderr
    assert "probe / " not in proc.stdout and "probe/resnet18" in proc.stdout  # model_summary names it
    assert "| `model.probe_hidden_channels` | `0` | int; must not be negative |" in proc.stdout
    assert (run / "model.onnx").is_file() and "must match on `--resume`" in proc.stdout
