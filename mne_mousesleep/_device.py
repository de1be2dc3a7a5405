"""Where the networks run: CPU, a CUDA GPU or Apple's MPS."""

# Authors: The mne-mousesleep developers
# License: BSD-3-Clause

import re

#: Accepted device names (``"cuda:N"`` too).
DEVICES = ("auto", "cpu", "cuda", "mps")


def _check_device_name(device):
    """Return ``device`` as a name, checking its form (not that it exists).

    A :class:`torch.device` gives its name; anything but ``"auto"``,
    ``"cpu"``, ``"mps"``, ``"cuda"`` or ``"cuda:N"`` raises a
    :class:`ValueError`.
    """
    if type(device).__name__ == "device" and hasattr(device, "type"):
        device = str(device)  # a torch.device (torch is not imported here)
    if not isinstance(device, str) or not re.fullmatch(
        r"auto|cpu|mps|cuda(:\d+)?", device
    ):
        raise ValueError(
            f"device must be one of {DEVICES} or 'cuda:N' (a GPU number), got "
            f"{device!r}."
        )
    return device


def _resolve_device(device):
    """Return the :class:`torch.device` asked for, checking that it exists.

    ``"auto"`` picks CUDA, then Apple's MPS, then the CPU. An explicit device
    that this machine (or this build of torch) does not have raises a
    :class:`ValueError` saying which devices it has.
    """
    import torch

    device = _check_device_name(device)
    cuda = torch.cuda.is_available()
    mps = bool(getattr(torch.backends, "mps", None)) and (
        torch.backends.mps.is_available()
    )
    if device == "auto":
        return torch.device("cuda" if cuda else "mps" if mps else "cpu")
    if device.startswith("cuda"):
        if not cuda:
            raise ValueError(
                f"device={device!r}, but torch sees no CUDA GPU here (torch "
                f"{torch.__version__}, built "
                f"{'with' if torch.backends.cuda.is_built() else 'without'} CUDA); "
                f"available: {_available()}."
            )
        index = int(device.split(":")[1]) if ":" in device else 0
        if index >= torch.cuda.device_count():
            raise ValueError(
                f"device={device!r}, but this machine has "
                f"{torch.cuda.device_count()} CUDA GPU(s); available: {_available()}."
            )
    if device == "mps" and not mps:
        raise ValueError(
            f"device='mps', but Apple's MPS is not available here; available: "
            f"{_available()}."
        )
    return torch.device(device)


def _available():
    import torch

    names = ["cpu"]
    if torch.cuda.is_available():
        names += [f"cuda:{ii}" for ii in range(torch.cuda.device_count())]
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        names.append("mps")
    return names


#: Accepted training precisions.
PRECISIONS = ("auto", "float32", "bfloat16", "float16")


def _native_bf16_cpu():
    """Whether this CPU computes bfloat16 natively (AVX-512 BF16 or AMX)."""
    import torch

    try:
        with open("/proc/cpuinfo") as fid:
            flags = next((ln for ln in fid if ln.startswith("flags")), "")
    except OSError:
        return False
    native = " avx512_bf16" in flags or " amx_bf16" in flags
    return native and torch.ops.mkldnn._is_mkldnn_bf16_supported()


def _resolve_precision(precision, device):
    """Return the autocast dtype of training on ``device`` (None: float32)."""
    import torch

    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}.")
    if precision == "auto":
        if device.type == "cuda":
            precision = "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
        elif device.type == "cpu" and _native_bf16_cpu():
            precision = "bfloat16"
        else:
            precision = "float32"
    if precision == "float16" and device.type != "cuda":
        raise ValueError("precision='float16' is for CUDA GPUs; use 'bfloat16'.")
    return None if precision == "float32" else getattr(torch, precision)


#: Accepted scoring precisions.
SCORING_PRECISIONS = ("auto", "float32", "bfloat16")


def _check_scoring_precision(precision):
    """Return ``precision`` if it is a scoring precision, else raise ValueError."""
    if precision not in SCORING_PRECISIONS:
        raise ValueError(
            f"precision must be one of {SCORING_PRECISIONS}, got {precision!r}."
        )
    return precision


def _scoring_precision(precision, device, fast_path):
    """Return the arithmetic of a scoring: ``"float32"`` or ``"bfloat16"``.

    ``"auto"`` is bfloat16 only for the whole-recording path on a CPU that
    computes bfloat16 natively (``fast_path`` and :func:`_native_bf16_cpu`),
    where it is about twice as fast; float32 elsewhere (emulated bfloat16
    would be slower). An explicit ``"bfloat16"`` on a CUDA GPU without
    bfloat16 raises a :class:`ValueError`.
    """
    import torch

    _check_scoring_precision(precision)
    if precision == "auto":
        native = device.type == "cpu" and fast_path and _native_bf16_cpu()
        return "bfloat16" if native else "float32"
    if (
        precision == "bfloat16"
        and device.type == "cuda"
        and not torch.cuda.is_bf16_supported()
    ):
        raise ValueError(
            "precision='bfloat16', but this CUDA GPU does not compute bfloat16; "
            "use precision='float32'."
        )
    return precision
