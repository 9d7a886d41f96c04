import model_summary
from utils.config.errors import EXIT_USER_ERROR


def test_prints_params_memory_and_flops(capsys):
    assert model_summary.main(["--model_type", "fpn", "--backbone", "resnet18", "--num_classes", "8", "--input_size", "3,64,128"]) == 0
    out = capsys.readouterr().out
    assert "Total params" in out and "Params size (MB)" in out and "Forward/backward pass size (MB)" in out
    assert "FLOPs per image" in out and "FPNDecoder" in out


def test_original_unet_flags_and_config(capsys):
    assert model_summary.main(["--model_type", "unet", "--backbone", "resnet18", "--unet_res_blocks", "--input_size", "3,64,64", "--depth", "1"]) == 0
    assert "OriginalUnetDecoder" in capsys.readouterr().out
    assert model_summary.main(["--config_path", "configs/quickstart.yaml"]) == 0
    assert "25,588,808" in capsys.readouterr().out


def test_bad_input_size(capsys):
    assert model_summary.run_main(model_summary.main, ["--input_size", "512x1024"]) == EXIT_USER_ERROR
    assert "C,H,W" in capsys.readouterr().err
