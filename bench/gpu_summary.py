"""Writes the Markdown summary of tools/gpu-check.sh from the files it left in OUT.

    python bench/gpu_summary.py OUT DEVICE DRY_RUN
"""

import json
import os
import sys


def read(out: str, name: str) -> str:
    path = os.path.join(out, name)
    return open(path, errors="replace").read().strip() if os.path.exists(path) else ""


def rows(out: str, name: str) -> list:
    return [json.loads(line) for line in read(out, name).splitlines() if line.strip()]


def per_image(m: dict) -> tuple:
    """(ms per image, images per second) at the row's batch."""
    if m["batch"] == 1:
        return m["steady_median_ms"], 1e3 / m["steady_median_ms"]
    return 1e3 / m["batch_img_s"], m["batch_img_s"]


def fmt(value, spec: str = ".1f") -> str:
    return "–" if value is None else format(value, spec)


def conformance(out: str) -> list:
    log = read(out, "conformance.log").splitlines()
    status = read(out, "conformance.status") or "not run"
    verdict = "passed" if status == "0" else f"FAILED (exit {status})"
    lines = [f"Exit status {status}: **{verdict}**.", ""]
    lines += [l for l in log if l.startswith("test result") or l.startswith("test ")]
    cases = [l for l in log if "logits_rel" in l]
    if cases:
        lines += ["", "Worst error per case (tolerances: logits 1e-3 relative, probabilities 1e-4,",
                  "heatmaps 1e-3, heatmap_max_raw 2e-3 relative):", "", "```", *cases, "```"]
    failed = [l for l in log if "panicked" in l or l.startswith("---- ")]
    if failed:
        lines += ["", "```", *failed[:40], "```"]
    return lines


def methods(out: str, device: str) -> list:
    status = read(out, "methods.status") or "not run"
    verdict = "passed" if status == "0" else f"FAILED (exit {status})"
    lines = [f"Every method's saved heatmap on `{device}` against the CPU's (tolerance 1e-3): "
             f"exit status {status}, **{verdict}**.", ""]
    results = rows(out, "methods.jsonl")
    if results:
        worst = max((r.get("max_abs_diff", float("inf")) for r in results), default=None)
        bad = [r["file"] for r in results if not r.get("ok")]
        lines += [f"{len(results)} heatmaps, worst difference {fmt(worst, '.2e')}; "
                  f"off or missing: {', '.join(bad) or 'none'}.", ""]
    log = read(out, "methods.log")
    if log:
        lines += ["```", *log.splitlines()[-20:], "```", ""]
    timings = read(out, "method-timings.txt")
    lines += ["ResNet50, one photo, one run each:", "", "```", timings or "not run", "```"]
    return lines


def bench_table(kerascam: list, torch: list) -> list:
    lines = [
        "| engine | model | batch | ms / image | images / s | batch-1 best ms | GPU MB (nvidia-smi peak over idle) | GPU MB in process (kerascam: in use at the end; PyTorch: allocator peak) | load s |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for engine, ms in (("kerascam", kerascam), ("pytorch-grad-cam", torch)):
        for m in ms:
            ms_img, img_s = per_image(m)
            in_process = m.get("device_used_mb", m.get("torch_max_allocated_mb"))
            lines.append(
                f"| {engine} | {m['model']} | {m['batch']} | {ms_img:.2f} | {img_s:.1f} | "
                f"{m['steady_min_ms']:.2f} | {fmt(m.get('smi_peak_mb'), '.0f')} | "
                f"{fmt(in_process, '.0f')} | {fmt(m.get('load_s'), '.2f')} |"
            )
    return lines


def ratios(kerascam: list, torch: list) -> list:
    lines = ["| model | batch | kerascam ms / image | pytorch-grad-cam ms / image | ratio |",
             "| --- | --- | --- | --- | --- |"]
    for k in kerascam:
        name = k["model"].replace(".keras", "")
        match = [t for t in torch if t["model"].endswith(name) and t["batch"] == k["batch"]]
        if match:
            a, b = per_image(k)[0], per_image(match[0])[0]
            lines.append(f"| {name} | {k['batch']} | {a:.2f} | {b:.2f} | {a / b:.2f} |")
    return lines


def main() -> None:
    out, device, dry = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
    kerascam, torch = rows(out, "kerascam-bench.jsonl"), rows(out, "torch-bench.jsonl")
    lines = ["# kerascam GPU check", ""]
    if dry:
        lines += ["**Dry run** on the CPU (GPU_CHECK_DRY_RUN=1): plumbing only, no GPU figures.", ""]
    lines += [f"Device: `{device}`; the check took {read(out, 'seconds') or '?'} s.", "",
              "## Machine", "", "```", read(out, "machine.txt"), "```", "",
              "## CUDA libraries the binary loads", "", "```", read(out, "libraries.txt"), "```", "",
              f"## Conformance on `{device}` against TensorFlow", "", *conformance(out), "",
              "## CAM and pixel-level methods", "", *methods(out, device), "",
              "## Benchmarks", "",
              "Photo decoding, resizing and preprocessing included; Grad-CAM of the top class.",
              "Batch 1: median of the steady repetitions; larger batches: two timed batches.", "",
              *bench_table(kerascam, torch), ""]
    if torch:
        lines += ["### kerascam ÷ pytorch-grad-cam (below 1: kerascam is faster)", "",
                  *ratios(kerascam, torch), ""]
    else:
        lines += ["pytorch-grad-cam: not run (see torch-bench.log).", ""]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
