#!/usr/bin/env bash
# One GPU session, prepared ahead: the benchmark suite on CUDA, the loader at full width, a short real
# training at 512x1024 bf16, and a 2-process run when there are 2 GPUs. Everything lands in $OUT.
#
#   bash benchmarks/gpu_session.sh --fetch-wheels   # on the build machine (pip reaches PyPI): fills .whl/ (gitignored)
#   bash benchmarks/gpu_session.sh --dry-run        # on the build machine's CPU: every step at toy sizes, ~3 minutes
#   bash benchmarks/gpu_session.sh                  # on the GPU machine, ~8 minutes (9 at most; 11 with 2 GPUs); with the device tool:
#       run(command="bash benchmarks/gpu_session.sh", carry=[".whl"], timeout_s=600)
#
# The GPU machine has torch, torchvision, numpy, opencv, scikit-image, timm and tensorboard but no
# registry: albumentations, tensorboardX, cityscapesscripts, torchinfo, smp, ttach and their missing
# dependencies (typing-extensions too: pydantic 2.14 needs 4.16) travel as wheels in .whl/ and are installed into /tmp/site.
# Files written (at most 8, as the device tool returns): env.txt, loader.txt, bench_cuda.md,
# bench_cuda.json, train.log, train_metrics.json, ddp.log, summary.md.
set -uo pipefail
cd "$(dirname "$0")/.."
MODE="${1:-run}"
PY="${PYTHON:-python3}"
WHEELS=(albumentations==2.0.8 albucore==0.0.24 pydantic==2.14.4 pydantic-core==2.50.5 annotated-types==0.8.0 typing-inspection==0.4.5
  stringzilla==5.3.2 simsimd==6.5.16 tensorboardX==2.6.5 cityscapesscripts==2.3.0 appdirs==1.4.4 coloredlogs==15.0.1 humanfriendly==10.0
  pyquaternion==0.9.9 torchinfo==1.8.0 segmentation-models-pytorch==0.6.0 ttach==0.0.3 typing-extensions==4.16.0)

if [ "$MODE" = "--fetch-wheels" ]; then
  # The GPU machine runs CPython 3.12 on x86-64 (see the device notes); pip matches manylinux tags exactly.
  mkdir -p .whl
  for spec in "${WHEELS[@]}"; do
    python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
      --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_24_x86_64 --platform manylinux_2_17_x86_64 \
      --platform manylinux2014_x86_64 --platform manylinux1_x86_64 -d .whl "$spec" || { echo "could not fetch $spec"; exit 1; }
  done
  ls -la .whl && du -sh .whl
  exit 0
fi

DRY=0
[ "$MODE" = "--dry-run" ] && DRY=1
OUT="${OUT:-runs/gpu_session}"
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
if compgen -G ".whl/*.whl" >/dev/null && [ "$DRY" = 0 ]; then
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
  export PYTHONPATH="/tmp/site:${PYTHONPATH:-}"
fi
"$PY" -c "import albumentations, tensorboardX, cityscapesscripts, torchinfo, segmentation_models_pytorch, ttach, skimage" || { echo "missing packages: run --fetch-wheels on the build machine and carry .whl"; exit 1; }

GPUS=$("$PY" -c "import torch; print(torch.cuda.device_count())")
if [ "$DRY" = 1 ]; then
  DEVICE=cpu; IMAGES=4; SIZE="[64,128]"; ENCODER=resnet18; BATCH=2; EPOCHS=1; ITERS=2; WORKERS=2; SUITE_ARGS="--device cpu --quick --only drop_clusters"
else
  [ "$GPUS" -ge 1 ] || { echo "no CUDA GPU visible"; exit 1; }
  DEVICE=cuda; IMAGES=256; SIZE="[512,1024]"; ENCODER=resnext50_32x4d; BATCH=16; EPOCHS=20; ITERS=0; WORKERS=$(( $(nproc) - 2 )); SUITE_ARGS="--device cuda"
fi

{ date -u; nvidia-smi 2>&1 | head -20; "$PY" -c "import torch, platform; print('python', platform.python_version(), 'torch', torch.__version__, 'cuda', torch.version.cuda, 'gpus', torch.cuda.device_count(), [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())])"; echo "cpu cores: $(nproc)"; } > "$OUT/env.txt" 2>&1
cat "$OUT/env.txt"

# 1. A 1024x2048 sample (real Cityscapes frame size), its prepared cache at 512x1024, and the loader at full width.
ROOT=$("$PY" -c "from benchmarks.common import full_size_sample; print(full_size_sample($IMAGES))") || exit 1
CACHE="$(dirname "$ROOT")/prepared"
DATA=(paths.root="$ROOT" dataset.cache_dir="$CACHE" dataset.size="$SIZE")
{ "$PY" -m utils.data.prepare --config_path train_config.yaml --set "${DATA[@]}" && \
  timeout 240 "$PY" -m benchmarks.data_pipeline --workers "$WORKERS" --images "$IMAGES" --batches $(( DRY ? 2 : 60 )); } 2>&1 | tee "$OUT/loader.txt"

# 2. The suite, its JSON rewritten after every benchmark so that a timeout keeps what was measured.
if [ "$DRY" = 1 ]; then
  "$PY" -c "from benchmarks.gpu import measure; print(measure('cpu', size=(64, 128), batch=2, repeats=1, warmup=0, compile_model=False, encoder='resnet18'))" 2>&1 | tee "$OUT/bench_cuda.md"
fi
timeout 300 "$PY" -m benchmarks $SUITE_ARGS --json "$OUT/bench_cuda.json" 2>&1 | tee -a "$OUT/bench_cuda.md"

# 3. A short real training: FPN-resnext50 from scratch, bf16 + channels_last, 20 epochs of 16 steps of 16 images at 512x1024.
RUN=runs/gpu_session_train
rm -rf "$RUN"
TRAIN=(model.encoder="$ENCODER" model.encoder_weights=null training.device="$DEVICE" training.batch_size="$BATCH" training.epochs="$EPOCHS"
  training.iters_per_epoch="$ITERS" training.num_workers="$WORKERS" training.amp=bf16 training.channels_last=true training.log_every_iters=8 training.tb_images=2
  training.freeze_encoder_iters=0 training.warmup_iters=20)
timeout $(( DRY ? 300 : 150 )) "$PY" train.py --config_path train_config.yaml --set "${DATA[@]}" paths.output_dir="$RUN" "${TRAIN[@]}" 2>&1 | tr '\r' '\n' | grep -v "^train \|^val " | tail -40
cp "$RUN/train.log" "$OUT/train.log" 2>/dev/null
cp "$RUN/metrics.json" "$OUT/train_metrics.json" 2>/dev/null

# 4. Two processes (DDP over NCCL) when the machine has two GPUs; the dry run checks the same path with gloo.
if [ "$GPUS" -ge 2 ] || [ "$DRY" = 1 ]; then
  rm -rf "$RUN-ddp"
  timeout 120 "$PY" -m torch.distributed.run --nproc_per_node=2 train.py --config_path train_config.yaml \
    --set "${DATA[@]}" paths.output_dir="$RUN-ddp" "${TRAIN[@]}" training.epochs=$(( DRY ? 1 : 10 )) training.num_workers=$(( WORKERS / 2 )) > "$OUT/ddp.log" 2>&1
  tail -5 "$OUT/ddp.log"
else
  echo "one GPU: no 2-process run" > "$OUT/ddp.log"
fi

"$PY" -m benchmarks.summary "$OUT" | tee "$OUT/summary.md"
