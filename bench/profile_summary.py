"""Summarise py-spy `--format raw` files: the functions most often on the stack (inclusive) and on top (self)."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path


def main(paths: list[str], top: int = 25) -> None:
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for path in paths:
        for line in Path(path).read_text().splitlines():
            stack, _, count_text = line.rpartition(" ")
            if not stack:
                continue
            count = int(count_text)
            frames = stack.split(";")
            total += count
            for frame in set(frames):
                inclusive[frame] += count
            own[frames[-1]] += count
    print(f"{total} samples")
    print("-- inclusive --")
    for frame, count in inclusive.most_common(top):
        print(f"{100 * count / total:5.1f}%  {frame}")
    print("-- self --")
    for frame, count in own.most_common(top):
        print(f"{100 * count / total:5.1f}%  {frame}")


if __name__ == "__main__":
    main(sys.argv[1:])
