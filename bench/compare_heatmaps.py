"""Compares the heatmaps two `kerascam explain --save-heatmap` runs wrote (same file names in
two folders, e.g. one run on the GPU, one on the CPU) and prints one JSON line per file with
the largest absolute difference, then exits 1 if any exceeds the tolerance or is missing.

    python bench/compare_heatmaps.py REFERENCE_DIR OTHER_DIR [--tolerance 1e-3] [--label NAME]
"""

import argparse
import json
import os
import sys

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("reference")
    parser.add_argument("other")
    parser.add_argument("--tolerance", type=float, default=1e-3)
    parser.add_argument("--label", default="", help="prefixed to each file name printed")
    args = parser.parse_args()
    label = f"{args.label}/" if args.label else ""
    if not os.path.isdir(args.reference):
        print(json.dumps({"file": label + args.reference, "error": "no such folder"}))
        sys.exit(1)
    names = sorted(n for n in os.listdir(args.reference) if n.endswith(".npy"))
    failed = not names
    for name in names:
        other = os.path.join(args.other, name)
        if not os.path.exists(other):
            print(json.dumps({"file": label + name, "error": "missing"}))
            failed = True
            continue
        a = np.load(os.path.join(args.reference, name))
        b = np.load(other)
        if a.shape != b.shape:
            print(json.dumps({"file": label + name, "error": f"shape {b.shape} against {a.shape}"}))
            failed = True
            continue
        diff = float(np.max(np.abs(a.astype(np.float64) - b))) if a.size else 0.0
        ok = diff <= args.tolerance
        failed |= not ok
        print(json.dumps({"file": label + name, "max_abs_diff": diff, "ok": ok}))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
