#!/usr/bin/env bash
# Installs what `cargo build --features cuda` needs on a Debian machine WITHOUT a GPU, so that
# the CUDA build of kerascam compiles here and its binaries can be carried to a GPU machine.
#
#     sudo bash tools/cuda-toolchain.sh        # once; then, in any new shell:
#     cargo build --release -p kerascam --features cuda
#
# Where the toolkit comes from, and why: NVIDIA's own PyPI wheels (nvidia-cuda-nvcc and
# friends), pinned to CUDA 13.0. The GPU machines this project is lent run driver 580 with
# nvcc 13.0; the driver only loads PTX whose ISA its CUDA version knows, and cudarc picks its
# API bindings by CUDA version, so the compiler must be 13.0 exactly: a newer 13.x writes
# PTX that driver 580 refuses. Debian 12's `nvidia-cuda-toolkit` is CUDA 11.8 (and Debian 13's
# is 12.x), a major version behind, so Debian's packages cannot match. The wheels hold nvcc,
# ptxas, cicc and libdevice (nvidia-cuda-nvcc, nvidia-nvvm), the headers (nvidia-cuda-runtime,
# -crt, -cccl) and the libraries cudarc links against (cudart, cublas, cublasLt, curand,
# nvrtc), all in one tree, nvidia/cu13/.
#
# What candle 0.11's `cuda` feature needs at build time:
# - candle-kernels' build.rs (cudaforge) runs nvcc on every .cu file (PTX, plus a static
#   library of the MoE/GGUF kernels linked with -lcudart); it finds nvcc on PATH, $NVCC or
#   $CUDA_HOME/bin, and the target architecture in $CUDA_COMPUTE_CAP (else nvidia-smi, which
#   a machine without a GPU lacks). 90 = H100 and H200 (compute capability 9.0).
# - cudarc (features `cuda-version-from-build-system`, `dynamic-linking`) takes the CUDA
#   version from $CUDARC_CUDA_VERSION or `nvcc --version`, and links -lcuda -lcublas
#   -lcublasLt -lcurand -lnvrtc from /usr/local/cuda/lib{,/stubs}. libcuda belongs to the
#   driver, which no package here provides: this script writes a link-time stub (every cu*
#   function of cuda.h, each returning CUDA_ERROR_STUB_LIBRARY) into lib/stubs, as NVIDIA's
#   toolkit does. The binaries therefore need the real libcuda.so.1 (the driver's) and the
#   CUDA 13 libraries at run time; on the GPU machine tools/gpu-check.sh finds them.
#
# What it leaves behind (idempotent; run again to repair):
# - /opt/cuda-13.0-pypi/nvidia/cu13   the unpacked wheels (about 1.2 GB)
# - /usr/local/cuda-13.0 -> that tree, /usr/local/cuda -> /usr/local/cuda-13.0
# - /usr/local/bin/nvcc               a wrapper, so nvcc is on every shell's PATH
# - ~/.cargo/config.toml [env]        CUDA_COMPUTE_CAP=90, CUDARC_CUDA_VERSION=13000, CUDA_HOME
# - /etc/profile.d/cuda.sh            the same variables for login shells
set -euo pipefail

PREFIX=/opt/cuda-13.0-pypi
ROOT="$PREFIX/nvidia/cu13"
COMPUTE_CAP="${CUDA_COMPUTE_CAP:-90}"
WHEELS=(
    nvidia-cuda-nvcc==13.0.88 nvidia-nvvm==13.0.88 nvidia-cuda-crt==13.0.88
    nvidia-cuda-runtime==13.0.96 nvidia-cuda-cccl==13.0.85 nvidia-cuda-nvrtc==13.0.88
    nvidia-cublas==13.0.2.14 nvidia-curand==10.4.0.35
)

install_wheels() {
    if [ -x "$ROOT/bin/nvcc" ] && [ -e "$ROOT/lib/libcublas.so.13" ] && [ -e "$ROOT/lib/libnvrtc.so.13" ]; then
        echo "cuda-toolchain: wheels already in $PREFIX"
        return
    fi
    python3 -m pip install --quiet --no-deps --only-binary=:all: --upgrade \
        --target "$PREFIX" "${WHEELS[@]}"
}

# Unversioned names for the linker (the wheels ship only the sonames), and lib64.
link_libraries() {
    cd "$ROOT/lib"
    for so in lib*.so.*; do
        base="${so%%.so.*}.so"
        [ -e "$base" ] || ln -s "$so" "$base"
    done
    cd "$ROOT"
    [ -e lib64 ] || ln -s lib lib64
}

# A libcuda.so for linking only: one function per cu* entry point of cuda.h (after the
# preprocessor, so versioned names such as cuCtxCreate_v4 are the ones exported).
write_libcuda_stub() {
    local dir="$ROOT/lib/stubs" src
    mkdir -p "$dir"
    src="$(mktemp --suffix=.c)"
    echo '/* link-time stub of the driver API: never loaded at run time */' >"$src"
    gcc -E -P -I"$ROOT/include" "$ROOT/include/cuda.h" \
        | grep -oE '\bcu[A-Za-z0-9_]+[[:space:]]*\(' | tr -d '( \t' | sort -u \
        | awk '{ printf "int %s(void) { return 34; }\n", $1 }' >>"$src"
    gcc -shared -fPIC -o "$dir/libcuda.so" -Wl,-soname,libcuda.so.1 "$src"
    rm -f "$src"
}

link_system_paths() {
    ln -sfn "$ROOT" /usr/local/cuda-13.0
    if [ -L /usr/local/cuda ] || [ ! -e /usr/local/cuda ]; then
        ln -sfn /usr/local/cuda-13.0 /usr/local/cuda
    else
        echo "cuda-toolchain: /usr/local/cuda is a real folder; left alone" >&2
    fi
    printf '#!/bin/sh\nexec /usr/local/cuda/bin/nvcc "$@"\n' >/usr/local/bin/nvcc
    chmod +x /usr/local/bin/nvcc
    cat >/etc/profile.d/cuda.sh <<EOF
export CUDA_HOME=/usr/local/cuda
export CUDA_COMPUTE_CAP=$COMPUTE_CAP
export CUDARC_CUDA_VERSION=13000
EOF
}

# cargo's [env] reaches every build script, whatever shell cargo was started from.
write_cargo_env() {
    local config="${CARGO_HOME:-$HOME/.cargo}/config.toml"
    mkdir -p "$(dirname "$config")"
    touch "$config"
    if grep -q '^CUDA_COMPUTE_CAP' "$config"; then
        echo "cuda-toolchain: $config already has the CUDA variables"
        return
    fi
    grep -q '^\[env\]' "$config" || printf '\n[env]\n' >>"$config"
    sed -i "/^\[env\]/a CUDA_COMPUTE_CAP = \"$COMPUTE_CAP\"\nCUDARC_CUDA_VERSION = \"13000\"\nCUDA_HOME = \"/usr/local/cuda\"" "$config"
}

install_wheels
link_libraries
write_libcuda_stub
link_system_paths
write_cargo_env
nvcc --version | tail -2
echo "cuda-toolchain: ready (compute capability $COMPUTE_CAP); cargo build --features cuda works in a new shell"
