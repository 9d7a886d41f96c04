"""train_step: our FPN and UNET training steps beside segmentation_models_pytorch's same models, in one process.

A step is forward, BCE + dice, backward and an Adam update, on random inputs; both models get the same
loss, optimizer, precision and memory format, so the ratio compares the networks alone. On CUDA both run
bf16 autocast and channels_last. Also a script of its own, for other sizes and switches::

    python -m benchmarks.train_step --arch fpn --size 512 1024 --batch 8 --amp bf16 --channels_last [--compile]
"""

import argparse

import torch

from benchmarks.common import device_name, result, side_by_side
from models.registry import build_model, count_parameters
from utils.losses import BCEDiceLoss


def smp_model(arch: str, encoder: str, classes: int):
    import segmentation_models_pytorch as smp

    return (smp.FPN if arch == "fpn" else smp.Unet)(encoder_name=encoder, encoder_weights=None, classes=classes)


def make_step(
    model,
    device,
    size,
    batch: int,
    classes: int,
    amp: str = "none",
    channels_last: bool = False,
    compile_model: bool = False,
):
    """A closure running one training step of ``model`` on fixed random (batch, 3, H, W) inputs."""
    device = torch.device(device)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    model = model.to(device, memory_format=fmt).train()
    compiled = torch.compile(model) if compile_model else model
    opt = torch.optim.Adam(model.parameters(), 1e-4)
    loss_fn = BCEDiceLoss(classes).to(device)
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(batch, 3, *size, generator=generator).to(device).contiguous(memory_format=fmt)
    y = torch.randint(0, classes, (batch, *size), generator=generator).to(device)
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(amp)

    def step():
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None and device.type == "cuda"):
            loss = loss_fn(compiled(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step


def run(device: str = "cpu", quick: bool = False) -> dict:
    cuda = torch.device(device).type == "cuda"
    encoder, classes = "resnext50_32x4d", 19
    if cuda:
        size, batch, repeats, warmup = (512, 1024), 8, 15, 3
    else:
        size, batch, repeats, warmup = ((96, 192), 2, 3, 1) if quick else ((256, 512), 2, 5, 1)
    amp, channels_last = ("bf16", True) if cuda else ("none", False)
    ms, ratios, params = {}, {}, {}
    for arch in ("fpn", "unet"):
        models = {
            f"{arch} ours": build_model(arch, encoder, classes, encoder_weights=None),
            f"{arch} smp": smp_model(arch, encoder, classes),
        }
        params.update({name: count_parameters(m) for name, m in models.items()})
        steps = {name: make_step(m, device, size, batch, classes, amp, channels_last) for name, m in models.items()}
        seconds = side_by_side(steps, repeats, warmup, device)
        ms.update({name: 1000 * s / batch for name, s in seconds.items()})
        ratios[f"{arch} ours / smp"] = seconds[f"{arch} ours"] / seconds[f"{arch} smp"]
        del models, steps
    settings = {
        "encoder": encoder,
        "classes": classes,
        "size": list(size),
        "batch": batch,
        "amp": amp,
        "channels_last": channels_last,
        "repeats": repeats,
        "device": device_name(device),
    }
    return result(
        "image",
        ms,
        ratios,
        "fpn ours / smp",
        "segmentation_models_pytorch 0.6 FPN and Unet, same encoder",
        settings,
        parameters=params,
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--arch", default="fpn", choices=["fpn", "unet"])
    p.add_argument("--encoder", default="resnext50_32x4d")
    p.add_argument("--classes", type=int, default=19)
    p.add_argument("--size", type=int, nargs=2, default=[512, 1024])
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--amp", default="none", choices=["none", "bf16", "fp16"])
    p.add_argument("--channels_last", action="store_true")
    p.add_argument("--compile", action="store_true")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = p.parse_args()
    if torch.device(args.device).type == "cuda":
        torch.backends.cudnn.benchmark = True
    models = {
        "ours": build_model(args.arch, args.encoder, args.classes, encoder_weights=None),
        "smp": smp_model(args.arch, args.encoder, args.classes),
    }
    print(
        f"{args.arch}/{args.encoder}, {args.classes} classes, batch {args.batch} at {args.size[0]}x{args.size[1]}, "
        f"amp {args.amp}, channels_last {args.channels_last}, compile {args.compile}, {device_name(args.device)}"
    )
    steps = {
        name: make_step(m, args.device, args.size, args.batch, args.classes, args.amp, args.channels_last, args.compile)
        for name, m in models.items()
    }
    seconds = side_by_side(steps, args.steps, args.warmup, args.device)
    for name, s in seconds.items():
        print(
            f"{name:5s} {count_parameters(models[name]):,} params: median {args.batch / s:.1f} img/s over "
            f"{args.steps} steps"
        )
    print(f"ours / smp time per step: {seconds['ours'] / seconds['smp']:.2f}")


if __name__ == "__main__":
    main()
