"""Inference speed, in one run on the same 1024 px JPEG:

1. naive pipeline: ``Image.open`` full decode + torchvision transforms + eager PyTorch (the
   bundle's own weights), against the serving pipeline: ``ml.inference`` (JPEG draft decoding,
   the eval transform in Pillow + numpy, ONNX Runtime, temperature-calibrated probabilities);
   median ms per photo over many runs, and their ratio (goal >= 2.5x);
2. batch of 32: images/s of both pipelines;
3. the share of this CPU's measured matmul GFLOP/s (float32, numpy and torch, best of both)
   that the serving path reaches (model FLOPs counted from its conv and linear layers).

    .venv/bin/python bench/inference.py --bundle models/lesions

The JPEG is made at run time: a real photo from ../shared/data upscaled to 1024 px (or a
generated one when that folder is absent). Run it on a quiet machine (``uptime`` load < 1).
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
SHARED = Path(os.environ.get("SKIN_SHARED_DATA", REPO.parent / "shared" / "data"))

from ml.inference import load_predictor  # noqa: E402


def make_jpeg(bundle: Path, folder: Path) -> tuple[Path, str]:
    """A 1024 px JPEG: a real photo of the bundle's kind upscaled, or a generated one."""
    candidates = {
        "lesions": SHARED / "ham10000" / "images" / "nv",
        "acne-severity": SHARED / "acne04" / "levle1_moderate",
        "facial": SHARED / "facial" / "wrinkles",
    }
    source = candidates.get(bundle.name, SHARED / "ham10000" / "images" / "nv")
    photos = sorted(source.iterdir()) if source.is_dir() else []
    if photos:
        image, origin = Image.open(photos[0]).convert("RGB"), str(photos[0])
    else:
        rng = np.random.default_rng(0)
        image = Image.fromarray(rng.integers(0, 255, (96, 128, 3), dtype=np.uint8))
        origin = "generated noise (../shared/data absent)"
    scale = 1024 / max(image.size)
    image = image.resize((round(image.width * scale), round(image.height * scale)), Image.BICUBIC)
    path = folder / "photo-1024.jpg"
    image.save(path, format="JPEG", quality=90)
    return path, f"{origin} upscaled to {image.size[0]}x{image.size[1]}"


def median_ms(fn: Callable[[], object], repeats: int, warmup: int = 5) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def naive_pipeline(bundle: Path, threads: int) -> tuple[Callable, Callable, object]:
    import torch
    from torchvision import transforms as T  # noqa: N812 - the usual alias

    from ml.gradcam import model_from_bundle

    torch.set_num_threads(threads)
    model, card = model_from_bundle(bundle)
    pre = card.raw["preprocessing"]
    transform = T.Compose(
        [
            T.Resize(pre["resize"], interpolation=T.InterpolationMode.BILINEAR),
            T.CenterCrop(pre["size"]),
            T.ToTensor(),
            T.Normalize(pre["mean"], pre["std"]),
        ]
    )

    def one(path: Path) -> np.ndarray:
        x = transform(Image.open(path).convert("RGB"))[None]
        with torch.inference_mode():
            return torch.softmax(model(x), 1).numpy()

    def batch(paths: list[Path]) -> np.ndarray:
        x = torch.stack([transform(Image.open(p).convert("RGB")) for p in paths])
        with torch.inference_mode():
            return torch.softmax(model(x), 1).numpy()

    return one, batch, model


def matmul_gflops(threads: int, n: int = 2048) -> dict[str, float]:
    """Best float32 GEMM rate of numpy (BLAS) and torch on this CPU: 2n^3 FLOPs per product."""
    import torch

    torch.set_num_threads(threads)
    a, b = np.random.rand(n, n).astype(np.float32), np.random.rand(n, n).astype(np.float32)
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    rates = {}
    for name, fn in (("numpy", lambda: a @ b), ("torch", lambda: ta @ tb)):
        ms = median_ms(fn, repeats=10, warmup=2)
        rates[name] = 2 * n**3 / (ms / 1000) / 1e9
    return rates


def model_flops(model: object, size: int) -> float:
    """Multiply-adds of every Conv2d and Linear for one image, times two."""
    import torch

    total = 0

    def count(module: torch.nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        nonlocal total
        if isinstance(module, torch.nn.Conv2d):
            kh, kw = module.kernel_size
            total += output.numel() * (module.in_channels // module.groups) * kh * kw
        elif isinstance(module, torch.nn.Linear):
            total += output.numel() * module.in_features

    hooks = [m.register_forward_hook(count) for m in model.modules()]  # type: ignore[attr-defined]
    with torch.inference_mode():
        model(torch.zeros(1, 3, size, size))  # type: ignore[operator]
    for h in hooks:
        h.remove()
    return 2.0 * total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bundle", type=Path, default=REPO / "models" / "lesions")
    parser.add_argument("--repeats", type=int, default=60)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f}; {args.threads} threads everywhere")
    with tempfile.TemporaryDirectory() as tmp:
        photo, origin = make_jpeg(args.bundle, Path(tmp))
        run(args, photo, origin)
    print(f"load average after: {os.getloadavg()[0]:.2f}")


def run(args: argparse.Namespace, photo: Path, origin: str) -> None:
    predictor = load_predictor(args.bundle, threads=args.threads)
    card = predictor.card
    print(
        f"bundle {args.bundle} ({card.arch['backbone']}, {card.image_size} px, "
        f"{card.raw['quantization'].get('served', '?')}); photo: {origin}, "
        f"{photo.stat().st_size} bytes"
    )
    naive_one, naive_batch, model = naive_pipeline(args.bundle, args.threads)
    data = photo.read_bytes()
    agree = naive_one(photo).argmax() == list(card.classes).index(predictor.predict(data).top_class)
    naive_ms = median_ms(lambda: naive_one(photo), args.repeats)
    serving_ms = median_ms(lambda: predictor.predict(photo.read_bytes()), args.repeats)
    x = predictor.preprocess(io.BytesIO(data).getvalue())[None]
    ort_ms = median_ms(lambda: predictor.predict_logits(x), args.repeats)
    print(
        f"one photo, median of {args.repeats}: naive {naive_ms:.1f} ms, serving "
        f"{serving_ms:.1f} ms (of which ONNX Runtime {ort_ms:.1f} ms) -> "
        f"{naive_ms / serving_ms:.2f}x faster; same top class: {bool(agree)}"
    )
    paths = [photo] * 32
    naive_b = median_ms(lambda: naive_batch(paths), max(args.repeats // 10, 3), warmup=1)
    serving_b = median_ms(
        lambda: predictor.predict_batch([p.read_bytes() for p in paths]),
        max(args.repeats // 10, 3),
        warmup=1,
    )
    xb = np.repeat(x, 32, axis=0)
    ort_b = median_ms(lambda: predictor.predict_logits(xb), max(args.repeats // 10, 3), warmup=1)
    print(
        f"batch of 32: naive {32000 / naive_b:.0f} images/s, serving {32000 / serving_b:.0f} "
        f"images/s (ONNX Runtime alone {32000 / ort_b:.0f} images/s)"
    )
    flops = model_flops(model, card.image_size)
    peak = matmul_gflops(args.threads)
    best = max(peak.values())
    serving_rate = flops * 32000 / serving_b / 1e9
    ort_rate = flops * 32000 / ort_b / 1e9
    print(
        f"model: {flops / 1e9:.3f} GFLOP per image; matmul peak: "
        + ", ".join(f"{k} {v:.1f}" for k, v in peak.items())
        + " GFLOP/s"
    )
    print(
        f"serving path reaches {serving_rate:.1f} GFLOP/s = {serving_rate / best:.1%} of the "
        f"matmul peak end to end, {ort_rate:.1f} GFLOP/s = {ort_rate / best:.1%} in "
        "ONNX Runtime alone (batch 32)"
    )


if __name__ == "__main__":
    main()
