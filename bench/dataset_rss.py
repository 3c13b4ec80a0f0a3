#!/usr/bin/env python3
"""Peak memory and throughput of a dataset run (issue 17).

Draws N small labelled photos (three class folders of coloured shapes, 160x120 PNG), runs
`kerascam explain MODEL FOLDER --labels-from-folders --report` on them and reads the process's
peak RSS (VmHWM in /proc/PID/status) as results.jsonl passes checkpoints (200, 500, 1000, ...
photos), then the final peak from wait4; then times `kerascam report` rebuilding the page from
results.jsonl. Flat figures across checkpoints mean memory does not grow with the photo count.

    python3 bench/dataset_rss.py --kerascam target/debug/kerascam --photos 2000
"""
import argparse
import subprocess
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

CLASSES = ["0_red_disk", "1_blue_square", "2_yellow_triangle"]
COLOURS = [(220, 30, 30), (30, 60, 220), (235, 210, 30)]


def draw(kind, rng):
    img = Image.new("RGB", (160, 120), tuple(int(v) for v in rng.integers(150, 230, 3)))
    d = ImageDraw.Draw(img)
    cx, cy, r = rng.integers(30, 130), rng.integers(30, 90), rng.integers(12, 26)
    box = [cx - r, cy - r, cx + r, cy + r]
    if kind == 0:
        d.ellipse(box, fill=COLOURS[0])
    elif kind == 1:
        d.rectangle(box, fill=COLOURS[1])
    else:
        d.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], fill=COLOURS[2])
    return img


def make_photos(root, n):
    rng = np.random.default_rng(17)
    for i in range(n):
        kind = i % 3
        folder = root / CLASSES[kind]
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"p{i:06d}.png"
        if not path.exists():
            draw(kind, rng).save(path)


def status_kb(pid, key):
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def count_lines(path):
    try:
        with open(path, "rb") as f:
            return f.read().count(b"\n")
    except OSError:
        return 0


def timed(cmd, work):
    """Starts `cmd` under /usr/bin/time (a child forked from Python would inherit Python's
    RSS in ru_maxrss); returns the process and the file time writes the peak (KB) to."""
    peak = work / "peak_kb.txt"
    proc = subprocess.Popen(["/usr/bin/time", "-f", "%M", "-o", str(peak)] + cmd,
                            stdout=subprocess.DEVNULL)
    return proc, peak


def child_pid(pid):
    try:
        return int(open(f"/proc/{pid}/task/{pid}/children").read().split()[0])
    except (OSError, IndexError, ValueError):
        return None


def run_explain(args, photos, out, checkpoints):
    cmd = [args.kerascam, "explain", args.model, str(photos), "--labels-from-folders",
           "--report", "--out", str(out), "--quiet", "--batch-size", str(args.batch)]
    start = time.monotonic()
    proc, peak = timed(cmd, out.parent)
    seen = []
    pending = list(checkpoints)
    while True:
        done = count_lines(out / "results.jsonl")
        pid = child_pid(proc.pid)
        while pending and done >= pending[0] and pid:
            seen.append((done, status_kb(pid, "VmHWM"),
                         status_kb(pid, "VmRSS"), time.monotonic() - start))
            pending.pop(0)
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    wall = time.monotonic() - start
    return seen, wall, proc.returncode, int(peak.read_text().split()[-1])


def run_report(args, out, merged):
    start = time.monotonic()
    proc, peak = timed([args.kerascam, "report", str(out), "--out", str(merged)], out.parent)
    status = proc.wait()
    return time.monotonic() - start, int(peak.read_text().split()[-1]), status


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--kerascam", default="target/debug/kerascam")
    p.add_argument("--model", default="demo/shapes_cnn.keras")
    p.add_argument("--photos", type=int, default=2000)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--work", default="/tmp/kerascam-dataset-bench")
    args = p.parse_args()
    work = Path(args.work)
    photos, out, merged = work / "photos", work / "out", work / "report"
    t = time.monotonic()
    make_photos(photos, args.photos)
    print(f"photos: {args.photos} made in {time.monotonic() - t:.1f} s")
    subprocess.run(["rm", "-rf", str(out), str(merged)], check=True)
    marks = [m for m in (200, 500, 1000, 1500, 2000, 5000, 10000) if m < args.photos]
    seen, wall, code, final_kb = run_explain(args, photos, out, marks)
    assert code == 0, f"explain exited {code}"
    print("| photos done | peak RSS (VmHWM) MB | RSS now MB | seconds |")
    print("| --- | --- | --- | --- |")
    for done, hwm, rss, sec in seen:
        print(f"| {done} | {hwm / 1024:.1f} | {rss / 1024:.1f} | {sec:.1f} |")
    print(f"| {args.photos} (end, /usr/bin/time) | {final_kb / 1024:.1f} | | {wall:.1f} |")
    print(f"explain: {args.photos} photos in {wall:.1f} s = {args.photos / wall:.1f} photos/s "
          f"(batch {args.batch}, with thumbnails and report)")
    sec, maxrss, status = run_report(args, out, merged)
    assert status == 0
    print(f"report rebuild: {sec:.2f} s, peak RSS {maxrss / 1024:.1f} MB")


if __name__ == "__main__":
    main()
