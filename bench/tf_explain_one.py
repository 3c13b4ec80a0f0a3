"""One photo, process start to PNG written, the keras.io way: the TensorFlow side of the
"first photo" comparison (time it with hyperfine against `kerascam explain`).

    hyperfine -w 1 -r 5 \
      'python bench/tf_explain_one.py /tmp/kerascam-bench/resnet50.keras resnet conv5_block3_out /tmp/kerascam-bench/photo.png /tmp/tf.png' \
      'target/release/kerascam explain /tmp/kerascam-bench/resnet50.keras /tmp/kerascam-bench/photo.png --out /tmp/kc'
"""

import os
import sys

os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import keras  # noqa: E402
import matplotlib  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from PIL import Image  # noqa: E402


def main() -> None:
    model_path, module, layer, photo, out = sys.argv[1:6]
    tf.config.threading.set_intra_op_parallelism_threads(2)
    model = keras.models.load_model(model_path)
    preprocess = getattr(keras.applications, module).preprocess_input
    original = Image.open(photo).convert("RGB")
    x = preprocess(np.asarray(original.resize((224, 224), Image.BILINEAR), "float32")[None])
    grad_model = keras.models.Model(model.inputs, [model.get_layer(layer).output, model.output])
    with tf.GradientTape() as tape:
        conv, preds = grad_model(x)
        score = preds[:, int(tf.argmax(preds[0]))]
    grads = tape.gradient(score, conv)
    heat = tf.nn.relu(conv[0] @ tf.reduce_mean(grads, axis=(0, 1, 2))[..., None])[..., 0]
    heat = (heat / (tf.reduce_max(heat) + 1e-12)).numpy()
    jet = matplotlib.colormaps["jet"](np.uint8(255 * heat))[..., :3]
    jet = Image.fromarray(np.uint8(255 * jet)).resize(original.size, Image.BILINEAR)
    Image.blend(original, jet, 0.4).save(out)


if __name__ == "__main__":
    main()
