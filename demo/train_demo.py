#!/usr/bin/env python3
"""Train the kerascam demo model: a small CNN that tells three coloured shapes apart.

Everything is made here; nothing is downloaded. Seeds are fixed.

    python demo/train_demo.py              # trains, then writes the files listed below
    python demo/train_demo.py --refs-only  # keeps shapes_cnn.keras, rewrites photos/ and refs/

Outputs (next to this script):

    shapes_cnn.keras     Keras 3 model, 96x96x3 RGB input in [0, 255] (Rescaling inside,
                         so preprocessing is `none`), softmax over 3 classes
    labels.txt           class names, one per line, in output order
    photos/*.png|.jpg    320x240 demo photos (object off-centre; the model input is 96x96,
                         so every photo is resized)
    refs/<photo>.json    TensorFlow references for each photo: resized input, logits,
                         probabilities, Grad-CAM heatmaps (see demo/README.md)
    refs/<photo>.input.npy   the resized float32 input tensor (1, 96, 96, 3)

Environment: tensorflow-cpu 2.21.0, keras 3.15.1, numpy 2.4.6, pillow 13.0.0 (the same pins as
the conformance corpus).
"""

import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("TF_DETERMINISTIC_OPS", "1")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import keras  # noqa: E402
from PIL import Image, ImageDraw, ImageFilter  # noqa: E402

tf.config.experimental.enable_op_determinism()
tf.get_logger().setLevel("ERROR")

HERE = os.path.dirname(os.path.abspath(__file__))
SEED = 2024
SIZE = 96
CLASSES = ["red_disk", "blue_square", "yellow_triangle"]
TRAIN_N, VAL_N, TEST_N = 3000, 300, 1200
EPOCHS = 8
TARGET_LAYER = "block4_relu"

# Base colours of the three objects and of the distractor clutter (RGB).
OBJECT_COLOURS = [(215, 35, 35), (35, 75, 215), (235, 205, 30)]
CLUTTER_COLOURS = [(60, 150, 60), (130, 70, 160), (40, 170, 170), (120, 120, 120),
                   (140, 95, 55), (230, 230, 230), (30, 30, 30), (200, 120, 170)]


def log(*a):
    print(*a, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------
# Synthetic scenes, drawn at any resolution
# ---------------------------------------------------------------------------


def jitter(rng, colour, amount=30):
    return tuple(int(np.clip(c + rng.integers(-amount, amount + 1), 0, 255)) for c in colour)


def background(rng, w, h):
    """Smooth colour field (upsampled random grid) plus stripes and pixel noise."""
    grid = rng.uniform(40, 200, (rng.integers(3, 7), rng.integers(3, 7), 3)).astype(np.uint8)
    img = Image.fromarray(grid).resize((w, h), Image.BICUBIC)
    arr = np.asarray(img, np.float32)
    if rng.random() < 0.5:  # a woven / striped texture
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        freq = rng.uniform(0.15, 0.5) * SIZE / min(w, h)
        theta = rng.uniform(0, np.pi)
        wave = np.sin((xx * np.cos(theta) + yy * np.sin(theta)) * freq * np.pi)
        arr += wave[..., None] * rng.uniform(8, 25)
    arr += rng.normal(0, rng.uniform(4, 14), arr.shape)
    return arr


def clutter(rng, draw, w, h):
    """Distractors: lines, small blobs and boxes in colours none of the classes use."""
    s = min(w, h) / SIZE
    for _ in range(rng.integers(4, 10)):
        col = jitter(rng, CLUTTER_COLOURS[rng.integers(len(CLUTTER_COLOURS))], 20)
        kind = rng.integers(3)
        x, y = rng.uniform(0, w), rng.uniform(0, h)
        r = rng.uniform(3, 9) * s
        if kind == 0:
            x2, y2 = x + rng.uniform(-30, 30) * s, y + rng.uniform(-30, 30) * s
            draw.line([(x, y), (x2, y2)], fill=col, width=max(1, int(rng.uniform(1, 3) * s)))
        elif kind == 1:
            draw.ellipse([x - r, y - r * rng.uniform(0.5, 1.5), x + r, y + r], fill=col)
        else:
            draw.rectangle([x - r, y - r, x + r * rng.uniform(0.5, 1.5), y + r], fill=col)


def draw_object(rng, draw, cls, cx, cy, r, aspect):
    """The class object centred at (cx, cy), radius r, horizontal stretch `aspect`."""
    col = jitter(rng, OBJECT_COLOURS[cls])
    rx, ry = r * aspect, r
    if cls == 0:
        draw.ellipse([cx - rx, cy - ry, cx + rx, cy + ry], fill=col)
    elif cls == 1:
        a = rng.uniform(0, np.pi / 2)
        pts = [(cx + rx * 1.1 * np.cos(a + k * np.pi / 2), cy + ry * 1.1 * np.sin(a + k * np.pi / 2))
               for k in range(4)]
        draw.polygon(pts, fill=col)
    else:
        a = rng.uniform(0, 2 * np.pi)
        pts = [(cx + rx * 1.2 * np.cos(a + k * 2 * np.pi / 3),
                cy + ry * 1.2 * np.sin(a + k * 2 * np.pi / 3)) for k in range(3)]
        draw.polygon(pts, fill=col)


def scene(rng, cls, w, h, centre=None, radius=None):
    """One RGB uint8 picture (h, w, 3) of class `cls`."""
    arr = background(rng, w, h)
    img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(img)
    clutter(rng, draw, w, h)
    s = min(w, h) / SIZE
    r = radius if radius is not None else rng.uniform(9, 20) * s
    if centre is None:
        centre = (rng.uniform(r, w - r), rng.uniform(r, h - r))
    draw_object(rng, draw, cls, centre[0], centre[1], r, rng.uniform(0.7, 1.35))
    if rng.random() < 0.5:  # some clutter on top of the object (partial occlusion)
        for _ in range(rng.integers(1, 3)):
            col = jitter(rng, CLUTTER_COLOURS[rng.integers(len(CLUTTER_COLOURS))], 20)
            x, y = centre[0] + rng.uniform(-r, r), centre[1] + rng.uniform(-r, r)
            draw.line([(x, y), (x + rng.uniform(-r, r), y + rng.uniform(-r, r))], fill=col,
                      width=max(1, int(s)))
    if rng.random() < 0.3:
        img = img.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.0) * s))
    out = np.asarray(img, np.float32) + rng.normal(0, 3, (h, w, 3))
    return np.clip(out, 0, 255).astype(np.uint8)


def dataset(rng, n):
    y = np.arange(n) % len(CLASSES)
    rng.shuffle(y)
    x = np.stack([scene(rng, int(c), SIZE, SIZE) for c in y])
    return x, y.astype(np.int32)


# ---------------------------------------------------------------------------
# Model
# ---------------------------------------------------------------------------


def conv_block(x, filters, name, strides=1):
    x = keras.layers.Conv2D(filters, 3, strides=strides, padding="same", use_bias=False,
                            name=f"{name}_conv")(x)
    x = keras.layers.BatchNormalization(name=f"{name}_bn")(x)
    return keras.layers.ReLU(name=f"{name}_relu")(x)


def build_model():
    inp = keras.Input((SIZE, SIZE, 3), name="image")
    x = keras.layers.Rescaling(1.0 / 255, name="rescale")(inp)
    x = conv_block(x, 16, "block1", strides=2)                    # 48x48
    x = conv_block(x, 24, "block2")
    x = keras.layers.MaxPooling2D(2, name="pool2")(x)             # 24x24
    x = conv_block(x, 32, "block3")
    x = keras.layers.MaxPooling2D(2, name="pool3")(x)             # 12x12
    x = conv_block(x, 48, "block4")                               # 12x12x48: Grad-CAM layer
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    x = keras.layers.Dropout(0.2, name="dropout")(x)
    out = keras.layers.Dense(len(CLASSES), activation="softmax", name="predictions")(x)
    return keras.Model(inp, out, name="shapes_cnn")


# ---------------------------------------------------------------------------
# Demo photos and TensorFlow references
# ---------------------------------------------------------------------------

# (file name, class, centre as a fraction of (w, h), radius in pixels, seed)
PHOTOS = [
    ("red_disk_left.png", 0, (0.27, 0.62), 42, 11),
    ("blue_square_top_right.png", 1, (0.72, 0.30), 40, 12),
    ("yellow_triangle_bottom_right.png", 2, (0.70, 0.68), 44, 13),
    ("red_disk_top_left.jpg", 0, (0.22, 0.28), 36, 14),
]
PHOTO_W, PHOTO_H = 320, 240


def load_rgb(path):
    return np.asarray(Image.open(path).convert("RGB"), np.float32)


def resize_input(pixels):
    """The documented resize: float32 RGB, bilinear, half-pixel centres, no antialiasing."""
    x = tf.image.resize(pixels[None], (SIZE, SIZE), method="bilinear", antialias=False)
    return np.ascontiguousarray(x.numpy(), np.float32)


def gradcam(grad_model, dense, x, cls):
    with tf.GradientTape() as tape:
        A, feat = grad_model(x, training=False)
        logits = dense(feat)
        score = logits[0, cls]
    G = tape.gradient(score, A)
    alpha = tf.reduce_mean(G, axis=(1, 2), keepdims=True)
    cam = tf.nn.relu(tf.reduce_sum(alpha * A, axis=-1))[0]
    m = float(tf.reduce_max(cam).numpy())
    heat = (cam / m).numpy() if m > 0 else np.zeros(cam.shape, np.float32)
    return heat.astype(np.float32), m, float(score.numpy())


def peak_cell(heat):
    i = int(np.argmax(heat))
    return [i // heat.shape[1], i % heat.shape[1]]


def check_target_layer(model):
    """TARGET_LAYER is the conformance rule's target: the last layer with a 4-D output."""
    four_d = [l.name for l in model.layers if len(l.output.shape) == 4 and l.name != "image"]
    assert four_d[-1] == TARGET_LAYER, four_d


def write_photos_and_refs(model):
    check_target_layer(model)
    os.makedirs(os.path.join(HERE, "photos"), exist_ok=True)
    os.makedirs(os.path.join(HERE, "refs"), exist_ok=True)
    last = model.get_layer("predictions")
    grad_model = keras.Model(model.inputs, [model.get_layer(TARGET_LAYER).output, last.input])
    kernel, bias = last.get_weights()

    def dense(feat):
        return tf.matmul(feat, kernel) + bias

    summary = []
    for fname, cls, (fx, fy), radius, seed in PHOTOS:
        rng = np.random.default_rng(seed)
        pixels = scene(rng, cls, PHOTO_W, PHOTO_H, centre=(fx * PHOTO_W, fy * PHOTO_H),
                       radius=radius)
        p = os.path.join(HERE, "photos", fname)
        if fname.endswith(".jpg"):
            Image.fromarray(pixels).save(p, quality=95, subsampling=0)
        else:
            Image.fromarray(pixels).save(p)
        x = resize_input(load_rgb(p))  # decode what was written (JPEG is lossy)
        stem = os.path.splitext(fname)[0]
        np.save(os.path.join(HERE, "refs", stem + ".input.npy"), x)
        probs = model(x, training=False).numpy()[0]
        _, feat = grad_model(x, training=False)
        logits = dense(feat).numpy()[0]
        order = np.argsort(-logits, kind="stable")
        heatmaps = []
        for c in (int(order[0]), int(order[1])):
            heat, mraw, score = gradcam(grad_model, dense, x, c)
            heatmaps.append({"class": c, "label": CLASSES[c], "score": score,
                             "heatmap_max_raw": mraw, "peak_cell": peak_cell(heat),
                             "heatmap": heat.tolist()})
        ref = {
            "photo": f"photos/{fname}",
            "photo_size": [PHOTO_H, PHOTO_W],
            "decoder": "PIL (Pillow 13.0.0) Image.open(...).convert('RGB')",
            "expected_class": cls,
            "object_centre_xy": [fx * PHOTO_W, fy * PHOTO_H],
            "resize": {"to": [SIZE, SIZE], "method": "bilinear", "half_pixel_centers": True,
                       "antialias": False, "dtype": "float32",
                       "call": "tf.image.resize(rgb_float32[None], (96, 96), 'bilinear', "
                               "antialias=False)"},
            "input": f"refs/{stem}.input.npy",
            "preprocessing": "none",
            "target_layer": TARGET_LAYER,
            "target_shape": list(grad_model.outputs[0].shape[1:]),
            "top_class": int(order[0]),
            "label": CLASSES[int(order[0])],
            "logits": [float(v) for v in logits],
            "probabilities": [float(v) for v in probs],
            "heatmaps": heatmaps,
        }
        with open(os.path.join(HERE, "refs", stem + ".json"), "w") as f:
            json.dump(ref, f, indent=1)
            f.write("\n")
        summary.append((fname, CLASSES[int(order[0])], float(probs.max()),
                        heatmaps[0]["peak_cell"]))
        assert int(order[0]) == cls, f"demo photo {fname} misclassified"
    return summary


def main():
    if "--refs-only" in sys.argv[1:]:
        model = keras.models.load_model(os.path.join(HERE, "shapes_cnn.keras"))
        for row in write_photos_and_refs(model):
            log("photo %s -> %s (p=%.3f), heatmap peak cell %s" % row)
        return
    t0 = time.time()
    keras.utils.set_random_seed(SEED)
    rng = np.random.default_rng(SEED)
    x_train, y_train = dataset(rng, TRAIN_N)
    x_val, y_val = dataset(rng, VAL_N)
    x_test, y_test = dataset(rng, TEST_N)
    log(f"data: {time.time() - t0:.1f}s")
    model = build_model()
    model.compile(optimizer=keras.optimizers.Adam(2e-3),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x_train.astype(np.float32), y_train, batch_size=64, epochs=EPOCHS,
              validation_data=(x_val.astype(np.float32), y_val), verbose=2, shuffle=True)
    _, acc = model.evaluate(x_test.astype(np.float32), y_test, verbose=0)
    log(f"held-out accuracy on {TEST_N} new images: {acc:.4f} (total {time.time() - t0:.0f}s)")
    model.save(os.path.join(HERE, "shapes_cnn.keras"))
    with open(os.path.join(HERE, "labels.txt"), "w") as f:
        f.write("\n".join(CLASSES) + "\n")
    for row in write_photos_and_refs(model):
        log("photo %s -> %s (p=%.3f), heatmap peak cell %s" % row)
    with open(os.path.join(HERE, "refs", "training.json"), "w") as f:
        json.dump({"seed": SEED, "train_images": TRAIN_N, "test_images": TEST_N,
                   "epochs": EPOCHS, "test_accuracy": float(acc),
                   "tensorflow": tf.__version__, "keras": keras.__version__,
                   "numpy": np.__version__}, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
