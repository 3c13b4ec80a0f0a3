"""pytorch-grad-cam's GradCAM, ScoreCAM and AblationCAM on torchvision's ResNet50 (random
weights, seeded) at 224x224, batch 1, one photo, on the CPU with 2 threads, for comparison
with `cargo bench -p gradcam-core --bench methods`. Target layer `layer4[-1]` (7x7x2048, as
kerascam's `conv5_block3_out`); Score-CAM over all 2048 channels with its `batch_size` set to
32 (as its README recommends; kerascam also runs 32 masked inputs per pass). Grad-CAM: best
of 5 after a warm-up; Score-CAM and Ablation-CAM: one run each. Prints milliseconds and the
load average.

    python bench/pytorch_grad_cam.py PHOTO [--methods gradcam,ablationcam,scorecam]
"""

import argparse
import os
import sys
import time

# This file's name is the package's: import the package, not this script.
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path = [p for p in sys.path if os.path.abspath(p or ".") != HERE]

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torchvision  # noqa: E402
from PIL import Image  # noqa: E402
from pytorch_grad_cam import AblationCAM, GradCAM, ScoreCAM  # noqa: E402

MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)


def photo(path):
    image = Image.open(path).convert("RGB").resize((224, 224), Image.Resampling.BILINEAR)
    x = (np.asarray(image, np.float32) / 255.0 - MEAN) / STD
    return torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1))).unsqueeze(0)


def timed(cam, x, reps):
    cam(input_tensor=x, targets=None)
    best = float("inf")
    for _ in range(reps):
        start = time.perf_counter()
        cam(input_tensor=x, targets=None)
        best = min(best, time.perf_counter() - start)
    return best * 1e3


def once(cam, x):
    start = time.perf_counter()
    cam(input_tensor=x, targets=None)
    return (time.perf_counter() - start) * 1e3


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("photo")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--methods",
        default="gradcam,ablationcam,scorecam",
        help="comma-separated subset of gradcam, ablationcam, scorecam",
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(1234)
    model = torchvision.models.resnet50(weights=None).eval()
    layers = [model.layer4[-1]]
    x = photo(args.photo)
    methods = args.methods.split(",")
    print(f"load average before: {os.getloadavg()}")
    if "gradcam" in methods:
        with GradCAM(model=model, target_layers=layers) as cam:
            print(f"gradcam      {timed(cam, x, 5):10.1f} ms")
    if "ablationcam" in methods:
        with AblationCAM(model=model, target_layers=layers) as cam:
            print(f"ablationcam  {once(cam, x):10.1f} ms")
    if "scorecam" in methods:
        with ScoreCAM(model=model, target_layers=layers) as cam:
            cam.batch_size = 32
            print(f"scorecam     {once(cam, x):10.1f} ms")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
