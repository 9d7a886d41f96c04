"""model.encoder_weights for PIDNet: the authors' files, fabricated here from their key list in their format."""

import pytest
import torch
from test_pidnet import official_keys

from models.registry import build_model
from utils.config.errors import UserError

HEADS = ("seghead_p.", "seghead_d.", "final_layer.")


def imagenet_like(size: str) -> dict:
    """A stand-in for PIDNet_S_ImageNet.pth.tar: ``{"state_dict": ...}`` with the authors' keys but the segmentation
    heads, and a classifier of 1000 classes that our network does not have."""
    g = torch.Generator().manual_seed(0)
    state = {
        k: torch.tensor(7) if k.endswith("num_batches_tracked") else torch.randn(shape, generator=g)
        for k, shape in official_keys(size)
        if not k.startswith(HEADS)
    }
    state.update({"fc.weight": torch.randn(1000, 1024, generator=g), "fc.bias": torch.zeros(1000)})
    return {"state_dict": state, "epoch": 90}


def test_imagenet_file_loads_the_keys_present_in_both_with_equal_shapes(tmp_path, log):
    path = tmp_path / "PIDNet_S_ImageNet.pth.tar"
    file = imagenet_like("s")
    torch.save(file, path)
    net = build_model("pidnet", num_classes=19, encoder_weights=str(path)).pidnet
    own, state = net.state_dict(), file["state_dict"]
    loaded = [k for k in own if k in state]
    assert len(own) == 479 and len(loaded) == 479 - 26 - 13  # all but the three heads' 26 + 13 tensors
    assert all(torch.equal(own[k], state[k]) for k in loaded)
    assert (
        f"encoder weights from {path}: loaded {len(loaded)} of 479 tensors of PIDNet-S; 39 keep their "
        "initialisation (seghead_p.bn1.weight, seghead_p.bn1.bias, seghead_p.bn1.running_mean, ...); 2 tensors of "
        "the file unused (fc.weight, fc.bias)" in log.text
    )


def test_the_authors_cityscapes_checkpoint_loads_whole(tmp_path, log):
    """Their FullModel's state dict: every key under ``model.``, and the loss's class weights beside them."""
    own = build_model("pidnet", num_classes=19, pidnet_size="s").state_dict()
    state = {f"model.{k.removeprefix('pidnet.')}": v + 1 for k, v in own.items() if v.is_floating_point()}
    state["sem_loss.criterion.weight"] = torch.ones(19)
    torch.save(state, tmp_path / "PIDNet_S_Cityscapes_val.pt")
    model = build_model("pidnet", num_classes=19, encoder_weights=str(tmp_path / "PIDNet_S_Cityscapes_val.pt"))
    assert torch.equal(model.state_dict()["pidnet.final_layer.conv2.bias"], state["model.final_layer.conv2.bias"])
    assert "1 tensors of the file unused (sem_loss.criterion.weight)" in log.text


def test_imagenet_names_the_authors_download():
    with pytest.raises(UserError) as err:
        build_model("pidnet", num_classes=19, pidnet_size="m", encoder_weights="imagenet")
    message = str(err.value)
    assert (
        "PIDNet_M_ImageNet.pth.tar" in message and "https://drive.google.com/file/d/1gB9RxYVbdwi9eO5lbT073q" in message
    )
    assert "github.com/XuJiacong/PIDNet" in message and "set model.encoder_weights to the file's path" in message
    assert "encoder_weights: null" in message


def test_another_sizes_file_is_refused(tmp_path):
    torch.save(imagenet_like("m"), tmp_path / "PIDNet_M_ImageNet.pth.tar")
    with pytest.raises(UserError, match=r"does not hold PIDNet-S weights: .*set model.pidnet_size to the file's size"):
        build_model("pidnet", num_classes=19, encoder_weights=str(tmp_path / "PIDNet_M_ImageNet.pth.tar"))


def test_a_missing_file_names_where_to_get_it(tmp_path):
    with pytest.raises(UserError, match=r"does not exist .*PIDNet_L_ImageNet.pth.tar: https://drive.google.com"):
        build_model("pidnet", num_classes=19, pidnet_size="l", encoder_weights=str(tmp_path / "none.pth.tar"))
