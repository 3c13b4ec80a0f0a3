#!/usr/bin/env python3
"""Generates the backbone signature table of the `backbones` crate from the conformance corpus.

Reads `manifest.json` `configs` (and each config's JSON, for layer names) and writes

* crates/backbones/src/signatures_table.rs  (the table, Rust, marked generated)
* crates/backbones/src/signatures_table.md  (the same table as markdown, shown in the crate docs)

Usage (from the repository root):

    python3 tools/signatures/generate.py [--conformance ../shared/conformance]

Only the standard library is used. Everything written is derived from the corpus: parameter
counts, preprocessing and layer class counts come from the manifest, and the structural markers
(layer names found in no other family) from the configs themselves. Nothing is invented for a
variant that the corpus does not hold: those are listed as not covered.
"""
import argparse
import gzip
import json
import os
import re
import sys

# Layer classes whose counts are recorded as structural evidence (leaf layers only; operation
# nodes and nested-model entries are not counted because their class names are ambiguous).
EVIDENCE_CLASSES = [
    "Conv2D",
    "DepthwiseConv2D",
    "SeparableConv2D",
    "BatchNormalization",
    "Dense",
    "LayerNormalization",
    "LayerScale",
    "Normalization",
    "Rescaling",
]

# How many family-unique layer names are kept per entry as markers.
MARKERS_PER_ENTRY = 8

# Variants keras.applications (Keras 3.15) and tf_keras.applications offer that a family covers.
# Each is checked against the corpus; those it lacks are reported as not covered (never invented).
OFFERED = [
    ("MobileNet", {"alpha": a}, top)
    for a in (0.25, 0.5, 0.75, 1.0)
    for top in (True, False)
] + [
    ("MobileNetV2", {"alpha": a}, top)
    for a in (0.35, 0.5, 0.75, 1.0, 1.3, 1.4)
    for top in (True, False)
] + [
    (c, {"alpha": 0.75, **m}, top)
    for c in ("MobileNetV3Small", "MobileNetV3Large")
    for m in ({}, {"minimalistic": True})
    for top in (True, False)
] + [
    (c, {}, top)
    for c in ("ResNetRS50", "ResNetRS101", "ResNetRS152", "ResNetRS200", "ResNetRS270",
              "ResNetRS350", "ResNetRS420")
    for top in (True, False)
]

MODES = {"caffe": "Caffe", "tf": "Tf", "torch": "Torch", "none": "None", "unit": "Unit"}


def load_config(root, entry):
    path = os.path.join(root, entry["config"])
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        return json.loads(f.read())


def snake_case(class_name):
    """Keras' own snake_case of a class name (`ReLU` -> `re_lu`), the stem of automatic names."""
    s = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", class_name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", s).lower()


def is_automatic(name, class_name):
    """Whether Keras generated the name (`conv2d_130`, `tf.math.multiply_5`): such names depend
    on how many layers the session created before, so they are no evidence."""
    if name.startswith("tf."):
        return True
    return re.fullmatch(re.escape(snake_case(class_name)) + r"(_\d+)?", name) is not None


def leaf_names(model):
    """(name, class) of the leaf layers of a model config in config order, nested models
    expanded in place."""
    out = []
    for layer in model["config"]["layers"]:
        cls = layer["class_name"]
        if cls in ("Functional", "Sequential", "Model"):
            out.extend(leaf_names(layer))
        elif cls != "InputLayer":
            out.append((layer["config"]["name"], cls))
    return out


def normalise(name, model_name):
    """Replaces a leading `<model name>_` by `{model}_` so names compare across variants."""
    prefix = model_name + "_"
    if name.startswith(prefix) and len(name) > len(prefix):
        return "{model}_" + name[len(prefix):]
    return name


def output_name(model):
    outs = model["config"]["output_layers"]
    while isinstance(outs, list) and outs and isinstance(outs[0], list):
        outs = outs[0]
    return outs[0]


def args_text(args):
    keep = {k: v for k, v in args.items() if k not in ("weights", "include_top", "input_shape")}
    return ", ".join(f"{k}={v}" for k, v in sorted(keep.items()))


def rust_str(s):
    return json.dumps(s, ensure_ascii=True)


def spread(items, n):
    """Up to n items spread evenly over the list (first and last always kept), order kept."""
    if len(items) <= n:
        return list(items)
    idx = sorted({round(i * (len(items) - 1) / (n - 1)) for i in range(n)})
    return [items[i] for i in idx]


def build(root):
    with open(os.path.join(root, "manifest.json"), encoding="utf-8") as f:
        manifest = json.load(f)
    configs = manifest["configs"]
    entries = []
    for c in configs:
        model = load_config(root, c)
        mname = model["config"]["name"]
        names = [normalise(n, mname) for n, cls in leaf_names(model) if not is_automatic(n, cls)]
        entries.append({"c": c, "names": names, "output": normalise(output_name(model), mname)})

    # Names per family, to find the names that no other family uses. A family whose names all
    # recur in a larger one (vgg16 inside vgg19) is compared only with the families that do not
    # contain it; the variants are then told apart by parameter and class counts.
    by_family = {}
    for e in entries:
        by_family.setdefault(e["c"]["family"], set()).update(e["names"])
    for e in entries:
        fam = e["c"]["family"]
        own = by_family[fam]
        others = set().union(*(v for k, v in by_family.items() if k != fam and not own <= v))
        unique = [n for n in dict.fromkeys(e["names"]) if n not in others]
        e["markers"] = spread(unique, MARKERS_PER_ENTRY)
        if not e["markers"]:
            sys.exit(f"{e['c']['id']}: no layer name unique to family {fam}")

    # Family facts: one preprocessing mode each, and the classifier-head layer names (present in
    # every include_top config of the family, absent from all its include_top=False configs).
    families = {}
    for e in entries:
        c = e["c"]
        f = families.setdefault(c["family"], {"modes": set(), "top": None, "notop": set()})
        f["modes"].add(c["preprocessing"])
        if c["include_top"]:
            names = set(e["names"])
            f["top"] = names if f["top"] is None else f["top"] & names
        else:
            f["notop"].update(e["names"])
    for fam, f in families.items():
        if len(f["modes"]) != 1:
            sys.exit(f"family {fam} has several preprocessing modes: {f['modes']}")
        head = sorted((f["top"] or set()) - f["notop"])
        f["head"] = head

    # Parameter-count collisions between entries.
    by_count = {}
    for e in entries:
        by_count.setdefault(e["c"]["param_count"], []).append(e["c"]["id"])
    collisions = [ids for ids in by_count.values() if len(ids) > 1]

    present = {
        (e["c"]["variant"]["constructor"].split(".")[-1],
         args_text(e["c"]["variant"]["args"]), e["c"]["include_top"])
        for e in entries
    }
    not_covered = []
    for ctor, args, top in OFFERED:
        key_args = args_text({k: v for k, v in args.items() if not (k == "alpha" and v == 1.0)})
        if (ctor, key_args, top) not in present:
            label = f"{ctor}({args_text(args)})" if args else ctor
            not_covered.append(f"{label} include_top={top}")
    return manifest, entries, families, collisions, not_covered


def write_rust(path, entries, families, collisions, not_covered):
    out = []
    w = out.append
    w("// @generated by tools/signatures/generate.py from the conformance corpus manifest.json.")
    w("// Do not edit. Regenerate from the repository root with:")
    w("//     python3 tools/signatures/generate.py --conformance ../shared/conformance")
    w("#![doc = include_str!(\"signatures_table.md\")]")
    w("")
    w("use crate::preprocessing::Preprocessing;")
    w("use crate::signatures::{FamilyInfo, Signature};")
    w("")
    w("/// Every `configs` entry of the corpus, in manifest order.")
    w("pub static SIGNATURES: &[Signature] = &[")
    for e in entries:
        c = e["c"]
        shape = ", ".join("None" if d is None else f"Some({d})" for d in c["input_shape"])
        counts = c.get("layer_class_counts", {})
        cc = ", ".join(f"({rust_str(k)}, {counts.get(k, 0)})" for k in EVIDENCE_CLASSES)
        w("    Signature {")
        w(f"        id: {rust_str(c['id'])},")
        w(f"        keras_major: {c['keras_major']},")
        w(f"        family: {rust_str(c['family'])},")
        w(f"        constructor: {rust_str(c['variant']['constructor'].split('.')[-1])},")
        w(f"        args: {rust_str(args_text(c['variant']['args']))},")
        w(f"        include_top: {'true' if c['include_top'] else 'false'},")
        w(f"        input_shape: [{shape}],")
        w(f"        param_count: {c['param_count']},")
        w(f"        trainable_param_count: {c['trainable_param_count']},")
        w(f"        non_trainable_param_count: {c['non_trainable_param_count']},")
        w(f"        preprocessing: Preprocessing::{MODES[c['preprocessing']]},")
        w(f"        output_layer: {rust_str(e['output'])},")
        w(f"        markers: &[{', '.join(rust_str(m) for m in e['markers'])}],")
        w(f"        class_counts: &[{cc}],")
        w("    },")
    w("];")
    w("")
    w("/// One entry per family: its preprocessing mode and classifier-head layer names.")
    w("pub static FAMILIES: &[FamilyInfo] = &[")
    for fam in sorted(families):
        f = families[fam]
        mode = MODES[next(iter(f["modes"]))]
        w("    FamilyInfo {")
        w(f"        family: {rust_str(fam)},")
        w(f"        preprocessing: Preprocessing::{mode},")
        w(f"        head_layers: &[{', '.join(rust_str(h) for h in f['head'])}],")
        w("    },")
    w("];")
    w("")
    w("/// Groups of entry ids that share one parameter count.")
    w("pub static COLLISIONS: &[&[&str]] = &[")
    for ids in collisions:
        w(f"    &[{', '.join(rust_str(i) for i in ids)}],")
    w("];")
    w("")
    w("/// Variants keras.applications offers that the corpus does not hold (not detected by count).")
    w("pub static NOT_COVERED: &[&str] = &[")
    for n in not_covered:
        w(f"    {rust_str(n)},")
    w("];")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(out) + "\n")


def write_markdown(path, manifest, entries, families, collisions, not_covered):
    out = []
    w = out.append
    env = manifest.get("environment", {})
    w("Backbone signature table, generated by `tools/signatures/generate.py` from the conformance")
    w("corpus (`manifest.json` `configs`; " + ", ".join(f"{k} {v}" for k, v in sorted(env.items())
                                                     if isinstance(v, str)) + ").")
    w("")
    w("Columns: parameter counts as `model.count_params()` (trainable / non-trainable), the")
    w("preprocessing `preprocess_input` matched, the output layer of the entry and the number of")
    w("family-unique marker layer names kept as structural evidence.")
    w("")
    w("| id | family | variant | top | input | params | trainable | non-trainable | preprocessing | output layer | markers |")
    w("| --- | --- | --- | --- | --- | ---: | ---: | ---: | --- | --- | ---: |")
    for e in entries:
        c = e["c"]
        ctor = c["variant"]["constructor"].split(".")[-1]
        args = args_text(c["variant"]["args"])
        variant = f"{ctor}({args})" if args else ctor
        shape = "x".join("?" if d is None else str(d) for d in c["input_shape"])
        w(f"| `{c['id']}` | {c['family']} | {variant} | {'yes' if c['include_top'] else 'no'} | "
          f"{shape} | {c['param_count']} | {c['trainable_param_count']} | "
          f"{c['non_trainable_param_count']} | {c['preprocessing']} | `{e['output']}` | "
          f"{len(e['markers'])} |")
    w("")
    w("Families and their classifier-head layers (in every include_top config, in no other):")
    w("")
    w("| family | preprocessing | head layers |")
    w("| --- | --- | --- |")
    for fam in sorted(families):
        f = families[fam]
        head = ", ".join(f"`{h}`" for h in f["head"]) or "-"
        w(f"| {fam} | {next(iter(f['modes']))} | {head} |")
    w("")
    w("Parameter-count collisions (entries sharing one count):")
    w("")
    for ids in collisions:
        w("- " + ", ".join(f"`{i}`" for i in ids))
    if not collisions:
        w("- none")
    w("")
    w("Not covered (offered by Keras, absent from the corpus, so no signature exists):")
    w("")
    for n in not_covered:
        w(f"- {n}")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(out) + "\n")


def main():
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    default_root = os.environ.get("KERASCAM_CONFORMANCE",
                                  os.path.join(repo, "..", "shared", "conformance"))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--conformance", default=default_root, help="conformance corpus folder")
    ap.add_argument("--out", default=os.path.join(repo, "crates", "backbones", "src"),
                    help="folder receiving signatures_table.rs and signatures_table.md")
    a = ap.parse_args()
    manifest, entries, families, collisions, not_covered = build(a.conformance)
    write_rust(os.path.join(a.out, "signatures_table.rs"), entries, families, collisions,
               not_covered)
    write_markdown(os.path.join(a.out, "signatures_table.md"), manifest, entries, families,
                   collisions, not_covered)
    print(f"{len(entries)} signatures, {len(families)} families, {len(collisions)} collision "
          f"groups, {len(not_covered)} offered variants not covered")


if __name__ == "__main__":
    main()
