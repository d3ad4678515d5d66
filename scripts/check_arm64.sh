#!/usr/bin/env bash
# Prove the TensorFlow-free runtime works on a Raspberry Pi's CPU, emulated: build the wheel, install it
# (with the tflite extra) into a Debian bookworm arm64 root (Python 3.11, like Raspberry Pi OS Bookworm)
# and run it under qemu-aarch64 as a Cortex-A53 (Pi 3, Zero 2 W), A72 (Pi 4) and A76 (Pi 5).
#
# Usage (as root; Debian/Ubuntu host with apt; needs PyPI and a Debian mirror):
#     sudo scripts/check_arm64.sh
# Environment:
#     ARM64_ROOT   the arm64 root (default /var/tmp/gantool-arm64); built on first use (debootstrap,
#                  about six minutes), reused afterwards; logs go to ARM64_ROOT/opt/gantool-check/logs
#     ARM64_SRC    the source tree to build the wheel from (default: this repository's working tree)
#     ARM64_CORES  the emulated cores (default "cortex-a53 cortex-a72 cortex-a76")
#     ARM64_FULL_CORE  the cores that run the full eval (n=1000) and bench: "all" (default) or one
#                  core, e.g. cortex-a72 for a quicker check (the others then judge 100 digits and
#                  bench batch 1 once); under emulation eval --count 1000 takes 3-6 minutes a core
#
# Per core, inside the root with QEMU_CPU set: the CPU is the one asked for (MIDR part number); the
# bundled model reproduces tests/golden (float output within 1e-5 of expected.npy on latents.npy,
# `gantool sample` PNG byte for byte, as scripts/make_goldens.py makes them); bundled-int8 stays within
# the onnx/int8 registry bound against expected.npy (as tests/test_golden.py checks it); a .tflite
# samples through LiteRT; `gantool eval` and `gantool bench --no-quality` exit 0 (eval --count 1000
# and bench at batch 1 and 64 on ARM64_FULL_CORE, smaller runs on the others; emulated timings are
# not speeds: only the exit status is checked).
# Prints one line per core and exits 1 when any check failed.
#
# Never mount /sys in the root: onnxruntime and LiteRT (cpuinfo) then read the host's x86 CPU
# description and segfault under emulation. Without /sys they run and warn; the warnings are
# filtered out of the logs.
set -euo pipefail

START=$SECONDS
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SRC=$(cd "${ARM64_SRC:-$REPO}" && pwd)
ROOT=${ARM64_ROOT:-/var/tmp/gantool-arm64}
ROOT=${ROOT%/}
CORES=${ARM64_CORES:-cortex-a53 cortex-a72 cortex-a76}
FULL_CORE=${ARM64_FULL_CORE:-all}
[[ $FULL_CORE == all || " $CORES " == *" $FULL_CORE "* ]] || FULL_CORE=${CORES%% *}
SUITE=bookworm
MARKER=$ROOT/.gantool-arm64-root-complete
WORK=/opt/gantool-check            # inside the root
VENV=$WORK/venv                    # inside the root
LOGS=$ROOT$WORK/logs
# cpuinfo (in onnxruntime and LiteRT) finds no /sys and an x86 /proc/cpuinfo: noise, not errors.
CPUINFO_NOISE='^(Error|Warning) in cpuinfo:|^onnxruntime (cpuid_info )?warning: .*(cpuinfo|CPU vendor)'

die() { echo "check_arm64: $*" >&2; exit 2; }
elapsed() { local s=$((SECONDS - START)); printf '%dm%02ds' $((s / 60)) $((s % 60)); }

[[ $EUID -eq 0 ]] || die "run as root (debootstrap, chroot and mounts need it)"
[[ -n $ROOT && $ROOT != / ]] || die "ARM64_ROOT must not be /"
[[ -f $SRC/pyproject.toml && -d $SRC/tests/golden ]] || die "$SRC is not a gantool source tree"

# --- mounts ---------------------------------------------------------------------------------------
unmount_root() {
    local m
    for m in "$ROOT/dev" "$ROOT/proc"; do
        if mountpoint -q "$m" 2>/dev/null; then umount "$m" || umount -l "$m"; fi
    done
}
cleanup() { unmount_root; }
trap cleanup EXIT
trap 'exit 130' INT TERM

mount_root() {
    local what
    for what in proc dev; do   # never sys (see the header)
        mountpoint -q "$ROOT/$what" || { mount --bind "/$what" "$ROOT/$what"; mount --make-private "$ROOT/$what"; }
    done
}

# run CORE LOG CMD...: CMD inside the root as CORE, output (less cpuinfo's noise) to LOG.
run() {
    local core=$1 log=$2 rc=0
    shift 2
    QEMU_CPU=$core chroot "$ROOT" /usr/bin/env -i QEMU_CPU="$core" HOME=/root LANG=C.UTF-8 \
        PATH="$VENV/bin:/usr/local/bin:/usr/bin:/bin" PIP_DISABLE_PIP_VERSION_CHECK=1 \
        PIP_ROOT_USER_ACTION=ignore PYTHONDONTWRITEBYTECODE=1 \
        ${CA_BUNDLE:+PIP_CERT=$WORK/ca-certificates.crt} "$@" >"$log.raw" 2>&1 || rc=$?
    { echo "\$ QEMU_CPU=$core $*"; grep -Ev "$CPUINFO_NOISE" "$log.raw"; } >"$log" || true
    rm -f "$log.raw"
    return "$rc"
}

# --- the root: reuse a complete one, rebuild a half-built one --------------------------------------
unmount_root
REBUILD=0
if [[ ! -f $MARKER ]]; then
    REBUILD=1
    if [[ -e $ROOT ]]; then
        if findmnt -rn -o TARGET | grep -q "^$ROOT/"; then die "something is still mounted under $ROOT"; fi
        echo "check_arm64: $ROOT is incomplete; rebuilding it"
        rm -rf --one-file-system "$ROOT"
    fi
fi
mkdir -p "$LOGS"
echo "check_arm64: logs in $LOGS"

# --- host tools and binfmt -------------------------------------------------------------------------
if ! command -v qemu-aarch64-static >/dev/null || ! command -v debootstrap >/dev/null \
        || ! command -v update-binfmts >/dev/null; then
    echo "check_arm64: installing qemu-user-static, debootstrap, binfmt-support"
    { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y qemu-user-static debootstrap binfmt-support; } \
        >"$LOGS/apt.log" 2>&1 || die "apt-get failed; see $LOGS/apt.log"
fi
if ! mountpoint -q /proc/sys/fs/binfmt_misc; then
    mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
fi
update-binfmts --enable qemu-aarch64 >"$LOGS/binfmt.log" 2>&1 || true
grep -qx enabled /proc/sys/fs/binfmt_misc/qemu-aarch64 2>/dev/null \
    || die "binfmt_misc has no enabled qemu-aarch64 entry; see $LOGS/binfmt.log"

# --- the wheel -----------------------------------------------------------------------------------
# Built from a copy of the tree, so the build leaves nothing (build/, *.egg-info) in the source tree.
BUILD=$(mktemp -d /var/tmp/gantool-arm64-build.XXXXXX)
trap 'cleanup; rm -rf "$BUILD"' EXIT
mkdir -p "$BUILD/src" "$BUILD/dist"
if git -C "$SRC" rev-parse --show-toplevel >/dev/null 2>&1 && [[ $(git -C "$SRC" rev-parse --show-toplevel) == "$SRC" ]]; then
    # Tracked and untracked (not ignored) files as they are in the working tree now.
    (cd "$SRC" && git ls-files -z -co --exclude-standard | while IFS= read -r -d '' f; do [[ -e $f ]] && printf '%s\0' "$f"; done \
        | tar --null -T - -cf -) | tar -C "$BUILD/src" -xf -
else
    tar -C "$SRC" --exclude=./.git --exclude=./build --exclude=./dist --exclude='*.egg-info' --exclude=__pycache__ \
        --exclude=./runs --exclude=./.venv -cf - . | tar -C "$BUILD/src" -xf -
fi
BUILD_PY=
for py in "${PYTHON:-}" python3 python "$REPO/.venv/bin/python" "$REPO/../venv/bin/python"; do
    if [[ -n $py ]] && command -v "$py" >/dev/null && "$py" -m build --version >/dev/null 2>&1; then
        BUILD_PY=$py
        break
    fi
done
if [[ -n $BUILD_PY ]]; then
    (cd "$BUILD/src" && "$BUILD_PY" -m build --wheel --outdir "$BUILD/dist" .) >"$LOGS/wheel.log" 2>&1 \
        || die "building the wheel failed; see $LOGS/wheel.log"
else
    (cd "$BUILD/src" && python3 -m pip wheel --no-deps -w "$BUILD/dist" .) >"$LOGS/wheel.log" 2>&1 \
        || die "building the wheel failed (pip wheel); see $LOGS/wheel.log"
fi
WHEELS=("$BUILD"/dist/gantool-*.whl)
[[ ${#WHEELS[@]} -eq 1 && -f ${WHEELS[0]} ]] || die "expected one wheel in $BUILD/dist; see $LOGS/wheel.log"
WHEEL_NAME=$(basename "${WHEELS[0]}")
echo "check_arm64: built $WHEEL_NAME from $SRC ($(elapsed))"

# --- build the root (once) ----------------------------------------------------------------------
if [[ $REBUILD == 1 ]]; then
    echo "check_arm64: debootstrapping Debian $SUITE arm64 into $ROOT (about six minutes)"
    debootstrap --arch=arm64 --variant=minbase --include=python3,python3-venv,python3-pip,ca-certificates \
        "$SUITE" "$ROOT" >"$LOGS/debootstrap.log" 2>&1 || die "debootstrap failed; see $LOGS/debootstrap.log"
    mount_root
    run cortex-a72 "$LOGS/venv.log" python3 -m venv "$VENV" || die "creating the venv failed; see $LOGS/venv.log"
    touch "$MARKER"
    echo "check_arm64: root built ($(elapsed))"
fi
mount_root
cp -L /etc/resolv.conf "$ROOT/etc/resolv.conf"   # pip needs DNS inside the root
# pip needs the host's CA bundle where TLS is intercepted (a proxy's own CA): the venv's pip uses
# certifi's bundle, not the root's store, so it is pointed at a copy of the host's.
CA_BUNDLE=${PIP_CERT:-${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}}
if [[ -f $CA_BUNDLE ]]; then cp -L "$CA_BUNDLE" "$ROOT$WORK/ca-certificates.crt"; else CA_BUNDLE=; fi

# --- install: the wheel as built now, then its tflite extra ----------------------------------------
rm -rf "${ROOT:?}$WORK/dist" "${ROOT:?}$WORK/golden" "${ROOT:?}$WORK/data" "${ROOT:?}$WORK/out"
mkdir -p "$ROOT$WORK/dist" "$ROOT$WORK/data" "$ROOT$WORK/out"
cp "${WHEELS[0]}" "$ROOT$WORK/dist/"
cp -r "$SRC/tests/golden" "$ROOT$WORK/golden"
cp "$SRC/tests/data/tiny_generator.tflite" "$ROOT$WORK/data/"
W=$WORK/dist/$WHEEL_NAME
run cortex-a72 "$LOGS/pip.log" sh -c "pip install --force-reinstall --no-deps '$W' && pip install '$W[tflite]' && pip list" \
    || die "pip install failed; see $LOGS/pip.log"
echo "check_arm64: installed $(grep -Eo '^(onnxruntime|ai-edge-litert|numpy|pillow) +[^ ]+' "$LOGS/pip.log" | tr -s ' ' | paste -sd, | sed 's/,/, /g') ($(elapsed))"

# qemu honours QEMU_CPU: an unknown model must refuse to start (the per-core check reads the MIDR).
if run no-such-cpu "$LOGS/qemu-cpu.log" python3 -c "print('ran')" || ! grep -q "unable to find CPU model" "$LOGS/qemu-cpu.log"; then
    die "qemu-aarch64 did not refuse QEMU_CPU=no-such-cpu; see $LOGS/qemu-cpu.log"
fi

# --- the checks, run inside the root ----------------------------------------------------------------
cat >"$ROOT$WORK/check.py" <<'PY'
"""check.py cpu CORE | golden GOLDEN_DIR PNG: print a summary fragment, or FAILED <check>: <reason> and exit 1."""
import sys


def fail(check, reason):
    print(f"FAILED {check}: {reason}")
    sys.exit(1)


def cpu(core):
    # The part number of the emulated core's MIDR_EL1, which qemu lets EL0 read (as Linux does).
    import ctypes, mmap, platform
    if platform.machine() != "aarch64":
        fail("cpu", f"platform.machine() is {platform.machine()}, not aarch64")
    code = bytes.fromhex("000038d5c0035fd6")  # mrs x0, midr_el1; ret
    buf = mmap.mmap(-1, mmap.PAGESIZE, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    buf.write(code)
    address = ctypes.addressof(ctypes.c_char.from_buffer(buf))
    midr = ctypes.CFUNCTYPE(ctypes.c_uint64)(address)()
    libc = ctypes.CDLL(None)
    libc.getauxval.restype = ctypes.c_ulong
    hwcap = libc.getauxval(16)
    parts = {"cortex-a53": 0xD03, "cortex-a72": 0xD08, "cortex-a76": 0xD0B}
    part = (midr >> 4) & 0xFFF
    print(f"machine {platform.machine()} python {platform.python_version()} midr {midr:#x} hwcap {hwcap:#x}"
          f" (atomics {bool(hwcap & 1 << 8)}, asimddp {bool(hwcap & 1 << 20)})")
    if core in parts and part != parts[core]:
        fail("cpu", f"MIDR part {part:#x}, expected {parts[core]:#x} for {core}")


def golden(golden_dir, png):
    import json
    from pathlib import Path
    import numpy as np
    from gantool.export.registry import lookup
    from gantool.runtime import Generator, latents
    from gantool.runtime.generator import default_model_path

    golden_dir, png = Path(golden_dir), Path(png)
    manifest = json.loads((golden_dir / "manifest.json").read_text())
    z = np.load(golden_dir / "latents.npy", allow_pickle=False)
    expected = np.load(golden_dir / "expected.npy", allow_pickle=False).astype(np.float64)
    if not np.array_equal(z, latents(manifest["count"], z.shape[1], manifest["seed"])):
        fail("latents", "latents(count, dim, seed) differs from latents.npy")
    parts = []

    got = Generator.load().generate(z).astype(np.float64)
    diff = np.abs(got - expected)
    print(f"fp32 max {diff.max():.3g} mean {diff.mean():.3g} at {tuple(int(i) for i in np.unravel_index(int(diff.argmax()), diff.shape))}")
    if diff.max() > 1e-5:
        fail("fp32", f"max |diff| {diff.max():.3g} > 1e-05 (mean {diff.mean():.3g})")
    parts.append(f"fp32 max diff {diff.max():.2g}")

    want = (golden_dir / "expected_grid.png").read_bytes()
    have = png.read_bytes()
    if have != want:
        from PIL import Image
        a, b = np.asarray(Image.open(png)), np.asarray(Image.open(golden_dir / "expected_grid.png"))
        same = a.shape == b.shape and np.array_equal(a, b)
        detail = "same pixels (encoder differs)" if same else (
            f"shape {a.shape} vs {b.shape}" if a.shape != b.shape else
            f"{int((a != b).sum())} pixels differ, max {int(np.abs(a.astype(int) - b.astype(int)).max())}")
        fail("png", f"{len(have)} bytes vs golden {len(want)}: {detail}")
    parts.append("png identical")

    if manifest.get("int8_model"):
        tolerance = lookup("onnx", "int8").tolerance
        int8_path = default_model_path().with_name(manifest["int8_model"])
        got8 = Generator.load(int8_path).generate(z).astype(np.float64)
        diff8 = np.abs(got8 - expected)
        print(f"int8 max {diff8.max():.3g} mean {diff8.mean():.3g}; bound {tolerance.describe()}")
        if diff8.max() > tolerance.max_abs or (tolerance.mean_abs is not None and diff8.mean() > tolerance.mean_abs):
            fail("int8", f"mean {diff8.mean():.3g} max {diff8.max():.3g} outside {tolerance.describe()}")
        parts.append(f"int8 mean {diff8.mean():.2g} max {diff8.max():.2g}")
    else:
        parts.append("no int8 bundled")
    print("SUMMARY " + ", ".join(parts))


if __name__ == "__main__":
    {"cpu": cpu, "golden": golden}[sys.argv[1]](*sys.argv[2:])
PY

read -r SEED COUNT COLS < <(python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); print(m["seed"], m["count"], m["cols"])' \
    "$SRC/tests/golden/manifest.json")

# `gantool bench --model bundled` needs the model resolver (gantool.runtime.generator.resolve_model);
# the last commit's bench takes only a file or folder and refuses it, so that one gets the path.
# TODO resolver: once the resolver is committed, pass `--model bundled` unconditionally.
BENCH_MODEL=$(chroot "$ROOT" /usr/bin/env -i QEMU_CPU=cortex-a72 LANG=C.UTF-8 "$VENV/bin/python" -c '
import gantool.runtime.generator as g
print("bundled" if hasattr(g, "resolve_model") else g.default_model_path())' 2>/dev/null | tail -n1 || true)
[[ $BENCH_MODEL == bundled || $BENCH_MODEL == /* ]] || die "could not find the bundled model inside the root"

# check NAME CMD...: run a step of $core (logs in $log); on failure set failed (the check), reason, step_log.
check() {
    local name=$1 started=$SECONDS line
    shift
    step_log=$log/$name.log
    if run "$core" "$step_log" "$@"; then
        echo "[$name took $((SECONDS - started)) s]" >>"$step_log"
        return 0
    fi
    # check.py names the check that failed (FAILED <check>: <reason>); else the last line says why.
    line=$(grep -E '^FAILED [^:]+: ' "$step_log" | tail -n1 || true)
    if [[ -n $line ]]; then
        line=${line#FAILED }
        failed=${line%%: *} reason=${line#*: }
    else
        failed=$name reason=$(grep -v '^[[:space:]]*$' "$step_log" | tail -n1 | cut -c1-160 || true)
    fi
    echo "[$name failed after $((SECONDS - started)) s]" >>"$step_log"
    return 1
}

FAILED=0
for core in $CORES; do
    out=$WORK/out/$core
    log=$LOGS/$core
    mkdir -p "$ROOT$out" "$log"
    failed=
    reason=
    step_log=
    summary=
    # Emulation is slow (measured on a 2-core host busy with other work): `eval --count 1000` took
    # 3.1-5.5 min per core, and the default bench (5 warm-up + 50 timed calls at batch 1 and 64) was
    # stopped after 5 min. So eval --count 1000 and bench --repeats 1 at batch 1 and 64 (about 70 s)
    # run on FULL_CORE only; the other cores judge 100 digits (about 20 s) and bench batch 1 once
    # (about 16 s): every code path still runs on every core.
    if [[ $FULL_CORE == all || $core == "$FULL_CORE" ]]; then
        eval_count=1000 bench_args=(--repeats 1) bench_what="bench ran"
    else
        eval_count=100 bench_args=(--batch 1 --repeats 1) bench_what="bench ran (batch 1)"
    fi
    t0=$SECONDS
    if check cpu python3 "$WORK/check.py" cpu "$core" \
        && check sample gantool sample --out "$out/grid.png" --count "$COUNT" --seed "$SEED" --cols "$COLS" \
        && check golden python3 "$WORK/check.py" golden "$WORK/golden" "$out/grid.png" \
        && check tflite gantool sample --model "$WORK/data/tiny_generator.tflite" --out "$out/tflite.png" --count 16 --cols 4 \
        && check eval gantool eval --count "$eval_count" --json "$out/eval.json" \
        && check bench gantool bench --model "$BENCH_MODEL" --no-quality "${bench_args[@]}" --json "$out/bench.json"; then
        summary=$(sed -n 's/^SUMMARY //p' "$log/golden.log")
        echo "$core: ok ($summary, tflite sampled, eval ran (n=$eval_count), $bench_what) [$((SECONDS - t0)) s]"
    else
        FAILED=1
        echo "$core: FAILED $failed: ${reason:-see the log} (log: $step_log)"
    fi
done

echo "check_arm64: total wall time $(elapsed)"
exit "$FAILED"
