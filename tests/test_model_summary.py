import shlex

import pytest

import model_summary
from models.registry import build_model, count_parameters
from utils.config.errors import EXIT_USER_ERROR


def test_prints_params_memory_and_flops(capsys):
    assert (
        model_summary.main(
            ["--model_type", "fpn", "--backbone", "resnet18", "--num_classes", "8", "--input_size", "3,64,128"]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "Total params" in out and "Params size (MB)" in out and "Forward/backward pass size (MB)" in out
    assert "FLOPs per image" in out and "FPNDecoder" in out


def test_original_unet_flags_and_config(capsys):
    assert (
        model_summary.main(
            [
                "--model_type",
                "unet",
                "--backbone",
                "resnet18",
                "--unet_res_blocks",
                "--input_size",
                "3,64,64",
                "--depth",
                "1",
            ]
        )
        == 0
    )
    assert "OriginalUnetDecoder" in capsys.readouterr().out
    assert model_summary.main(["--config_path", "configs/quickstart.yaml"]) == 0
    assert "25,588,808" in capsys.readouterr().out


def test_bad_input_size(capsys):
    assert model_summary.run_main(model_summary.main, ["--input_size", "512x1024"]) == EXIT_USER_ERROR
    assert "C,H,W" in capsys.readouterr().err


# The original README's commands, character for character (its first one spans four lines with backslashes).
ORIGINAL_COMMANDS = {
    "python model_summary.py --model_type fpn --backbone resnext50 --unet_res_blocks 0 --input_size 3,512,1024": (
        "fpn / resnext50",
        25_588_808,
        "the same count",
    ),
    "python model_summary.py --model_type unet --backbone resnext50 --unet_res_blocks 1 --input_size 3,512,1024": (
        "unet (original, residual decoder blocks)",
        69_034_568,
        "69,034,568 + 22,979,904 = 92,014,472",
    ),
    "python model_summary.py --model_type unet --backbone resnext50 --unet_res_blocks 0 --input_size 3,512,1024": (
        "unet (original) / resnext50",
        58_111_560,
        "58,111,560 + 22,979,904 = 81,091,464",
    ),
}


@pytest.mark.parametrize("command", list(ORIGINAL_COMMANDS))
def test_the_original_commands_parse_and_relate_to_its_figures(command):
    """Parsing, model and note as main() prints them; the 512x1024 forward passes run in the README, not here."""
    title_part, params, note_part = ORIGINAL_COMMANDS[command]
    args = model_summary.parse_args(shlex.split(command)[2:])
    model, size, title = model_summary._model_from_args(args)
    assert size == (3, 512, 1024) and title_part in title
    assert count_parameters(model) == params and note_part in model_summary.original_note(args, model)


def test_unet_res_blocks_takes_0_1_or_the_bare_flag(capsys):
    assert model_summary.parse_args(["--unet_res_blocks"]).unet_res_blocks == 1
    assert model_summary.parse_args(["--unet_res_blocks", "0", "--input_size", "3,64,64"]).unet_res_blocks == 0
    assert (
        model_summary.run_main(
            model_summary.main, ["--model_type", "unet", "--unet_preset", "light", "--unet_res_blocks", "1"]
        )
        == EXIT_USER_ERROR
    )
    assert "drop --unet_preset light" in capsys.readouterr().err


def test_counts_timm_encoders(capsys):
    assert model_summary.main(["--backbone", "tu-convnext_atto", "--input_size", "3,64,128", "--depth", "1"]) == 0
    out = capsys.readouterr().out
    assert "TimmEncoder" in out and "FLOPs per image" in out
    assert f"parameters: {count_parameters(build_model('fpn', 'tu-convnext_atto', 8)):,} total" in out


def test_a_timm_unet_takes_the_light_decoder(capsys):
    assert (
        model_summary.main(
            ["--model_type", "unet", "--backbone", "tu-convnext_atto", "--input_size", "3,64,128", "--depth", "1"]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "unet (light) / tu-convnext_atto" in out and "UnetDecoder" in out
