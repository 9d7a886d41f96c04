# CUDA-capable image for train.py / eval.py; the pip wheels of torch bring their own CUDA runtime.
FROM python:3.11-slim
RUN apt-get update && apt-get install -y --no-install-recommends libgl1 libglib2.0-0 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
# docker run --gpus all -v /data/cityscapes:/app/data/cityscapes -v $PWD/runs:/app/runs IMAGE \
#   python train.py --config_path train_config.yaml
CMD ["python", "train.py", "--config_path", "configs/quickstart.yaml"]
