"""TensorFlow baseline for kerascam's benchmark: the same Grad-CAM, measured the same way.

Prints, for ResNet50 and MobileNetV2 at 224x224 (random weights), in the two usual forms of
TensorFlow Grad-CAM (the keras.io code as published: eager GradientTape; and the same math under
tf.function): import + load time, first image, steady-state ms per image (batch 1), images per
second at batch 16, and peak RSS. PNG decode and preprocessing are included in every timing.

    pip install tensorflow==2.21.* pillow
    python bench/make_models.py /tmp/kerascam-bench          # once: writes the .keras files
    python bench/tf_gradcam.py /tmp/kerascam-bench --threads 2

Each (model, form) runs in its own process so that load time and peak RSS are its own.
"""

import argparse
import json
import os
import subprocess
import sys
import time

START = time.perf_counter()

MODELS = {"resnet50": ("resnet", "conv5_block3_out"), "mobilenetv2": ("mobilenet_v2", "out_relu")}


def peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def measure(folder: str, name: str, form: str, threads: int, steady: int) -> dict:
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    import numpy as np
    import tensorflow as tf
    import keras
    from PIL import Image

    tf.config.threading.set_inter_op_parallelism_threads(threads)
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    module, layer = MODELS[name]
    preprocess = getattr(keras.applications, module).preprocess_input
    model = keras.models.load_model(os.path.join(folder, f"{name}.keras"))
    photo = os.path.join(folder, "photo.png")
    loaded = time.perf_counter() - START

    # keras.io Grad-CAM: a model from the input to (target activation, predictions).
    grad_model = keras.models.Model(model.inputs, [model.get_layer(layer).output, model.output])

    def gradcam(batch):
        with tf.GradientTape() as tape:
            conv, preds = grad_model(batch)
            top = tf.argmax(preds, axis=1)
            score = tf.gather(preds, top, axis=1, batch_dims=1)
        grads = tape.gradient(score, conv)
        weights = tf.reduce_mean(grads, axis=(1, 2))
        cam = tf.nn.relu(tf.einsum("bhwk,bk->bhw", conv, weights))
        return cam / (tf.reduce_max(cam, axis=(1, 2), keepdims=True) + 1e-12)

    run = tf.function(gradcam) if form == "tf.function" else gradcam

    def load_batch(n):
        img = np.asarray(Image.open(photo).convert("RGB").resize((224, 224), Image.BILINEAR), "float32")
        return preprocess(np.repeat(img[None], n, axis=0))

    t = time.perf_counter()
    run(load_batch(1)).numpy()
    first = time.perf_counter() - t
    times = []
    for _ in range(steady):
        t = time.perf_counter()
        run(load_batch(1)).numpy()
        times.append(time.perf_counter() - t)
    run(load_batch(16)).numpy()
    t = time.perf_counter()
    for _ in range(2):
        run(load_batch(16)).numpy()
    batch_rate = 32 / (time.perf_counter() - t)
    return {
        "model": name,
        "form": form,
        "load_s": loaded,
        "first_s": first,
        "steady_ms": 1000 * min(times),
        "steady_median_ms": 1000 * sorted(times)[len(times) // 2],
        "batch16_img_s": batch_rate,
        "peak_rss_mb": peak_rss_mb(),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("folder")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steady", type=int, default=20)
    parser.add_argument("--one", nargs=2, metavar=("MODEL", "FORM"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.folder, args.one[0], args.one[1], args.threads, args.steady)))
        return
    print(f"{'model':<12} {'form':<12} {'load s':>7} {'first s':>8} {'median ms':>10} {'min ms':>8} {'b16 img/s':>10} {'RSS MB':>8}")
    for name in MODELS:
        for form in ("eager", "tf.function"):
            out = subprocess.run(
                [sys.executable, __file__, args.folder, "--threads", str(args.threads),
                 "--steady", str(args.steady), "--one", name, form],
                check=True, capture_output=True, text=True,
            ).stdout.strip().splitlines()[-1]
            r = json.loads(out)
            print(f"{r['model']:<12} {r['form']:<12} {r['load_s']:>7.2f} {r['first_s']:>8.2f} "
                  f"{r['steady_median_ms']:>10.1f} {r['steady_ms']:>8.1f} {r['batch16_img_s']:>10.1f} "
                  f"{r['peak_rss_mb']:>8.0f}")


if __name__ == "__main__":
    main()
