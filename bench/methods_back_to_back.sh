#!/bin/bash
# kerascam's CAM-method benchmark, then pytorch-grad-cam's, then kerascam's again, in one
# window, so that both sides are timed at the same machine speed (docs/methods-bench.md).
#
#   bench/methods_back_to_back.sh [PHOTO]     (PYTHON: an interpreter with torch, torchvision
#                                             and grad-cam 1.5.7; default: python)
set -euo pipefail
cd "$(dirname "$0")/.."
photo=${1:-demo/photos/red_disk_left.png}
cargo bench -p gradcam-core --bench methods --no-run
stamp() { echo "== $1 $(date -u +%H:%M:%S) load $(cut -d' ' -f1-3 /proc/loadavg)"; }
stamp kerascam
cargo bench -p gradcam-core --bench methods 2>/dev/null
stamp pytorch-grad-cam
"${PYTHON:-python}" bench/pytorch_grad_cam.py "$photo" 2>/dev/null
stamp kerascam
cargo bench -p gradcam-core --bench methods 2>/dev/null
stamp end
