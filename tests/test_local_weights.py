"""model.encoder_weights as a local file: torchvision's and timm's published state dicts, on real files."""

import pytest
import safetensors.torch
import timm
import torch
import torchvision

from models.registry import build_model
from utils.config.errors import UserError


def state_dict(name: str) -> dict:
    return torchvision.models.get_model(name, weights=None).state_dict()


def save(state: dict, path) -> str:
    if str(path).endswith(".safetensors"):
        safetensors.torch.save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    else:
        torch.save(state, path)
    return str(path)


LAYOUTS = {
    "plain.pth": lambda sd: sd,
    "wrapped.pth": lambda sd: {"state_dict": sd, "epoch": 90},
    "ddp.pt": lambda sd: {"model": {f"module.{k}": v for k, v in sd.items()}},
    "hub.bin": lambda sd: sd,
    "hub.safetensors": lambda sd: sd,
}


@pytest.mark.parametrize("layout", LAYOUTS)
def test_torchvision_file_gives_the_encoder_its_tensors(tmp_path, log, layout):
    sd = state_dict("resnet18")
    path = save(LAYOUTS[layout](sd), tmp_path / layout)
    encoder = build_model(arch="fpn", encoder="resnet18", encoder_weights=path).encoder
    got = encoder.state_dict()
    assert set(got) == set(sd) - {"fc.weight", "fc.bias"}
    assert all(torch.equal(value, sd[key]) for key, value in got.items())
    assert (
        f"encoder weights from {path}: loaded {len(got)} tensors; skipped 2 classifier tensors (fc.bias, fc.weight)"
        in log.text
    )


def test_a_file_without_batch_counters_loads(tmp_path):
    """Files saved before BatchNorm counted batches lack num_batches_tracked; torch treats that as 0."""
    sd = {k: v for k, v in state_dict("resnet18").items() if not k.endswith("num_batches_tracked")}
    encoder = build_model("fpn", "resnet18", encoder_weights=save(sd, tmp_path / "old.pth")).encoder
    assert torch.equal(encoder.layer4[1].bn2.running_var, sd["layer4.1.bn2.running_var"])


def foreign(tmp_path, case: str) -> tuple:
    """(path, a key the refusal must name) for files that are not resnet18's weights."""
    if case == "resnet34":
        return save(
            state_dict("resnet34"), tmp_path / "resnet34.pth"
        ), "layer1.2.conv1.weight"  # blocks resnet18 has not
    if case == "resnet50":
        return save(
            state_dict("resnet50"), tmp_path / "resnet50.safetensors"
        ), "layer1.0.conv1.weight"  # a 1x1 conv where resnet18 has 3x3
    if case == "unrelated":
        return save({"embedding.weight": torch.zeros(4, 2)}, tmp_path / "unrelated.pth"), "embedding.weight"
    if case == "toolkit":
        model = build_model("fpn", "resnet18", num_classes=2)
        return save(model.state_dict(), tmp_path / "last.pth"), "encoder.conv1.weight"
    if case == "suffix":
        path = tmp_path / "resnet18.ckpt"
        path.write_bytes(b"")
        return str(path), "model.encoder_weights"
    if case == "missing":
        return str(tmp_path / "nowhere" / "resnet18.pth"), "model.encoder_weights"
    if case == "truncated":
        path = tmp_path / "truncated.safetensors"
        path.write_bytes(b"\x00" * 40)
        return str(path), "model.encoder_weights"
    raise AssertionError(case)


@pytest.mark.parametrize("case", ["resnet34", "resnet50", "unrelated", "toolkit", "suffix", "missing", "truncated"])
def test_a_foreign_file_is_refused_in_one_line(tmp_path, case):
    path, key = foreign(tmp_path, case)
    with pytest.raises(UserError) as err:
        build_model("fpn", "resnet18", encoder_weights=path)
    message = str(err.value)
    assert "\n" not in message and path in message and key in message
    if case in ("resnet34", "resnet50", "unrelated"):
        assert "https://download.pytorch.org/models/resnet18-" in message  # what was expected, and where it comes from
    if case == "toolkit":
        assert "training.init_from" in message


def flat(key: str) -> str:
    return key.replace(".", "_")  # timm's features_only wrapper turns stages.0 into stages_0


@pytest.mark.parametrize("encoder,classifier", [("tu-convnext_atto", 4), ("tu-efficientnet_b0", 8)])
@pytest.mark.parametrize("suffix", [".safetensors", ".pth"])
def test_timm_file_gives_the_encoder_its_tensors(tmp_path, log, encoder, classifier, suffix):
    """The whole model's state dict; what features_only lacks (convnext's head.norm and head.fc, efficientnet's conv_head, bn2, classifier) is skipped."""
    full = timm.create_model(encoder[3:], pretrained=False).state_dict()
    state = full if suffix == ".safetensors" else {"state_dict": {f"module.{k}": v for k, v in full.items()}}
    path = save(state, tmp_path / f"model{suffix}")
    got = build_model("fpn", encoder, encoder_weights=path).encoder.model.state_dict()
    by_flat = {flat(k): v for k, v in full.items()}
    assert len(got) == len(full) - classifier
    assert all(torch.equal(value, by_flat[flat(key)]) for key, value in got.items())
    assert f"loaded {len(got)} tensors; skipped {classifier} classifier tensors" in log.text


def test_timm_refuses_another_models_file(tmp_path):
    path = save(timm.create_model("convnext_femto", pretrained=False).state_dict(), tmp_path / "femto.safetensors")
    with pytest.raises(UserError) as err:
        build_model("fpn", "tu-convnext_atto", encoder_weights=path)
    message = str(err.value)
    assert (
        "\n" not in message
        and path in message
        and "stem.0.weight is [48, 3, 4, 4] in the file but [40, 3, 4, 4]" in message
    )
    assert "hf download timm/convnext_atto.d2_in1k model.safetensors" in message
    with pytest.raises(UserError, match="stem.0.weight") as err:
        build_model("fpn", "tu-convnext_atto", encoder_weights=save(state_dict("resnet18"), tmp_path / "resnet18.pth"))
    assert "conv1.weight" in str(err.value)
