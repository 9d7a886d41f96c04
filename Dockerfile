# The toolkit in a CUDA-capable image: the pip wheels of torch bring their own CUDA runtime.
#   docker build -t segtool .
#   docker run --rm segtool                     # the quickstart: the built-in sample, train, eval (CPU or GPU)
#   docker run --rm --gpus all --shm-size=16g -v /data/cityscapes:/app/data/cityscapes -v $PWD/runs:/app/runs segtool \
#     torchrun --nproc_per_node=4 train.py --config_path train_config.yaml
# Apptainer (SLURM clusters): apptainer build segtool.sif docker-daemon://segtool:latest, then
#   apptainer exec --nv --bind /data/cityscapes:/app/data/cityscapes,$PWD/runs:/app/runs segtool.sif python /app/train.py ...
FROM python:3.11-slim
RUN apt-get update && apt-get install -y --no-install-recommends libgl1 libglib2.0-0 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
# The README's first command without its install: the sample, training and eval of configs/quickstart.yaml.
CMD ["sh", "-c", "python -m utils.sample_data --out data/sample && python train.py --config_path configs/quickstart.yaml && python eval.py --config_path configs/quickstart.yaml"]
