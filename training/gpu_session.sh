#!/usr/bin/env bash
# One call on a lent GPU machine (the `device` tool): train the sprite model on the v2 data from the shipped
# weights, evaluate it there, and leave the pipeline, its evaluation, contact sheet and logs in $OUT. Written
# where no GPU was lent, so its GPU path has never run; `--smoke` checks the training script on a CPU in seconds.
#
#   # here, once: the data as a real folder inside the working tree (data/ is ignored; a symbolic link does not
#   # travel, so cp -rL it if yours is one) and the wheels the device lacks (.whl/, ignored too)
#   training/gpu_session.sh --wheels
#   # the call (device tool): carry ["data/sprites2", ".whl"], timeout_s 600
#   training/gpu_session.sh
#
# MINUTES (default 6), DATA, SHARES and PYTHON come from the environment.
# The `wide` preset is the one that meets the ≤ 1 s per sprite bar on two CPU cores, so a GPU buys samples, not
# width: at batch 1024 an H100 sees in minutes what the CPU saw in seven hours.
set -euo pipefail
cd "$(dirname "$0")/.."

MINUTES=${MINUTES:-6}
PYTHON=${PYTHON:-python3}
DATA=${DATA:-data/sprites2}
SHARES=${SHARES:-noto-color-emoji-font=0.3,dcss=0.2,game-icons=0.15}
# What the training and evaluation import beyond the device's torch, numpy, Pillow, transformers and
# huggingface_hub (KINDS.md lists those), at the versions this repository is tested with.
WHEELS=(diffusers==0.42.1 pydantic==2.14.4 pydantic-core==2.50.5 pydantic-settings==2.16.3 python-dotenv==1.2.4
        annotated-types==0.8.0 typing-inspection==0.4.5 typing-extensions==4.16.0 importlib-metadata==10.2.0
        zipp==4.1.2 requests==2.34.2 urllib3==2.8.0 idna==3.21 charset-normalizer==3.5.3 certifi==2026.10.19.post1
        filelock==4.3.2 regex==2026.12.2)

case "${1:-}" in
--wheels)
    # The device's Python is 3.12 on x86-64.
    "$PYTHON" -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
        -d .whl "${WHEELS[@]}"
    exit 0 ;;
--smoke)
    OUT=${OUT:-$(mktemp -d)}
    "$PYTHON" training/train_sprite.py --smoke --out "$OUT/sprite-v2" --max-steps 2 --checkpoint-minutes 0
    echo "smoke: the training step ran; $OUT/sprite-v2 holds its pipeline"
    exit 0 ;;
"") ;;
*)
    echo "usage: $0 [--wheels | --smoke]  (MINUTES, DATA, SHARES, PYTHON from the environment)" >&2
    exit 2 ;;
esac

: "${OUT:?run it through the device tool, which sets OUT (or set OUT to a folder)}"
[ -f "$DATA/sprites.npz" ] || { echo "no $DATA/sprites.npz: carry the data (see the top of this file)" >&2; exit 2; }
if compgen -G ".whl/*.whl" >/dev/null; then
    "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
    export PYTHONPATH=/tmp/site
fi
export PYTHONPATH=${PYTHONPATH:+$PYTHONPATH:}$PWD
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
"$PYTHON" training/train_sprite.py --data "$DATA" --out "$OUT/sprite-v2" --preset wide --minutes "$MINUTES" \
    --batch 1024 --lr 5e-4 --warmup 0.05 --init-from pixelforge/backends/sprite/weights --source-shares "$SHARES" \
    --checkpoint-minutes 0 --log-every 100 --name sprite-v2 2>&1 | tee "$OUT/train.log"
"$PYTHON" training/eval_sprite.py --model "$OUT/sprite-v2" --data "$DATA" --device cuda --threads 4 --card \
    --sheet "$OUT/sprite-contact-sheet.png" 2>&1 | tee "$OUT/eval.log"
