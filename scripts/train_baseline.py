#!/usr/bin/env python
"""Train a baseline config: the same as `cnbench train CONFIG [--task TASK]`.

    python scripts/train_baseline.py configs/tfidf_word_lr.yaml --task stance
"""

import sys

from crypto_news_bench.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", *sys.argv[1:]]))
