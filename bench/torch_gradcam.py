"""pytorch-grad-cam's Grad-CAM on torchvision's ResNet50 or MobileNetV2 (random weights,
seeded), timed the way `kerascam bench` times kerascam, for a side-by-side on one GPU:
every timing includes reading, decoding, resizing and normalising the photo; the heatmap is
the top class's at the last convolutional block (ResNet50 `layer4`, MobileNetV2 `features`).
Batch 1: median and best of --steady repetitions; batch B: one warm-up, then two timed
batches, as kerascam does. Prints one JSON object.

    python bench/torch_gradcam.py PHOTO --model resnet50 --device cuda --batch 64
"""

import argparse
import json
import time

import numpy as np
import torch
import torchvision
from PIL import Image
from pytorch_grad_cam import GradCAM

MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)


def photo_batch(path: str, n: int, device: str) -> torch.Tensor:
    image = Image.open(path).convert("RGB").resize((224, 224), Image.Resampling.BILINEAR)
    x = (np.asarray(image, np.float32) / 255.0 - MEAN) / STD
    t = torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)))
    return t.unsqueeze(0).repeat(n, 1, 1, 1).to(device)


def model_and_layer(name: str):
    torch.manual_seed(1234)
    if name == "resnet50":
        model = torchvision.models.resnet50(weights=None)
        return model, model.layer4[-1]
    model = torchvision.models.mobilenet_v2(weights=None)
    return model, model.features[-1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("photo")
    parser.add_argument("--model", choices=["resnet50", "mobilenetv2"], default="resnet50")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--steady", type=int, default=20)
    args = parser.parse_args()
    cuda = args.device.startswith("cuda")
    model, layer = model_and_layer(args.model)
    model = model.to(args.device).eval()
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    with GradCAM(model=model, target_layers=[layer]) as cam:

        def explain(n: int) -> float:
            start = time.perf_counter()
            # targets=None: the top class; the maps come back as numpy, so the GPU is done.
            cam(input_tensor=photo_batch(args.photo, n, args.device), targets=None)
            return time.perf_counter() - start

        first_s = explain(1)
        steady = sorted(explain(1) * 1e3 for _ in range(args.steady))
        explain(args.batch)
        batch_s = explain(args.batch) + explain(args.batch)
    print(
        json.dumps(
            {
                "model": f"torchvision {args.model}",
                "device": args.device,
                "batch": args.batch,
                "first_s": first_s,
                "steady_median_ms": steady[len(steady) // 2],
                "steady_min_ms": steady[0],
                "batch_img_s": 2 * args.batch / batch_s,
                "torch_max_allocated_mb": torch.cuda.max_memory_allocated() / 1e6 if cuda else None,
                "torch": torch.__version__,
            }
        )
    )


if __name__ == "__main__":
    main()
