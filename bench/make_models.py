"""Writes the benchmark models (random weights, seeded) and a photo into a folder:
resnet50.keras, mobilenetv2.keras (224x224, 1000 classes) and photo.png.

    python bench/make_models.py /tmp/kerascam-bench
"""

import os
import sys

os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import keras  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402


def main() -> None:
    folder = sys.argv[1] if len(sys.argv) > 1 else "/tmp/kerascam-bench"
    os.makedirs(folder, exist_ok=True)
    keras.utils.set_random_seed(1234)
    keras.applications.ResNet50(weights=None).save(os.path.join(folder, "resnet50.keras"))
    keras.applications.MobileNetV2(weights=None).save(os.path.join(folder, "mobilenetv2.keras"))
    rng = np.random.default_rng(0)
    photo = rng.integers(0, 256, size=(480, 640, 3), dtype=np.uint8)
    Image.fromarray(photo).save(os.path.join(folder, "photo.png"))
    print(f"wrote models and photo to {folder}")


if __name__ == "__main__":
    main()
