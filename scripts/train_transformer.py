#!/usr/bin/env python
"""Train a transformer config: the same as `cnbench train CONFIG [--task TASK]`.

    python scripts/train_transformer.py configs/setfit.yaml --task stance
    torchrun --nproc_per_node=2 scripts/train_transformer.py configs/finetune.yaml
"""

import sys

from crypto_news_bench.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", *sys.argv[1:]]))
