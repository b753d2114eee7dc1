"""Cache YOLOX-nano person detections of a video to a .npz (for tracker tuning and benches).

Uses the project's ONNX detector (``linewatch.detect.onnx``) when it is importable, else a
minimal YOLOX decode of its own (the model's format is described in
``../shared/models/README.md``). Low-score boxes are kept (down to ``--score``): ByteTrack's
second association stage needs them.

    uv run python bench/cache_detections.py                       # PETS09-S2L1 -> /tmp
    uv run python bench/cache_detections.py --video X.mp4 --out /tmp/x.npz --classes 0,2,5,7

The .npz holds ``frame`` (int32, 0-based video frame index per box), ``xyxy`` (N x 4),
``score`` (N), ``cls`` (N: COCO ids from the built-in decode, linewatch ``ObjectClass``
values from the project's detector), plus ``n_frames`` and ``backend``.
"""

from __future__ import annotations

import argparse
import itertools
import time
from collections.abc import Iterator
from pathlib import Path

import av
import cv2
import numpy as np
import numpy.typing as npt

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
PETS_VIDEO = SHARED / "data" / "pets09-s2l1" / "vtest.avi"
YOLOX_NANO = SHARED / "models" / "yolox-nano" / "yolox_nano.onnx"
DEFAULT_OUT = Path("/tmp/linewatch-pets09-yolox-nano.npz")

F32 = npt.NDArray[np.float32]


def iter_frames(video: Path) -> Iterator[npt.NDArray[np.uint8]]:
    """BGR frames of a video file, in decode order."""
    with av.open(str(video)) as container:
        for fr in container.decode(video=0):
            yield fr.to_ndarray(format="bgr24")


class MiniYolox:
    """The smallest correct YOLOX decode: letterbox, grid decode, per-class NMS."""

    def __init__(
        self,
        model: Path,
        input_size: int = 416,
        score: float = 0.1,
        nms_iou: float = 0.45,
        classes: tuple[int, ...] = (0,),
        threads: int = 2,
    ) -> None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        self.session = ort.InferenceSession(
            str(model), sess_options=opts, providers=["CPUExecutionProvider"]
        )
        self.input_name = self.session.get_inputs()[0].name
        self.size = input_size
        self.score = score
        self.nms_iou = nms_iou
        self.classes = classes
        grids, strides = [], []
        for stride in (8, 16, 32):
            n = input_size // stride
            yv, xv = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
            grids.append(np.stack([xv, yv], axis=-1).reshape(-1, 2))
            strides.append(np.full((n * n, 1), stride))
        self.grid = np.concatenate(grids).astype(np.float32)
        self.stride = np.concatenate(strides).astype(np.float32)

    def __call__(self, image: npt.NDArray[np.uint8]) -> tuple[F32, F32, npt.NDArray[np.int64]]:
        h, w = image.shape[:2]
        r = min(self.size / h, self.size / w)
        nw, nh = round(w * r), round(h * r)
        canvas = np.full((self.size, self.size, 3), 114, dtype=np.uint8)
        canvas[:nh, :nw] = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_LINEAR)
        blob = canvas.transpose(2, 0, 1)[None].astype(np.float32)
        out = self.session.run(None, {self.input_name: blob})[0][0]
        xy = (out[:, :2] + self.grid) * self.stride
        wh = np.exp(out[:, 2:4]) * self.stride
        boxes = np.concatenate([xy - wh / 2, xy + wh / 2], axis=1) / r
        cls_scores = out[:, 5:][:, list(self.classes)] * out[:, 4:5]
        best = cls_scores.argmax(axis=1)
        scores = cls_scores[np.arange(len(best)), best]
        keep = scores >= self.score
        boxes, scores, best = boxes[keep], scores[keep], best[keep]
        coco = np.asarray(self.classes)[best]
        boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, w)
        boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, h)
        kept: list[int] = []
        for c in np.unique(coco):
            idx = np.flatnonzero(coco == c)
            xywh = np.concatenate([boxes[idx, :2], boxes[idx, 2:] - boxes[idx, :2]], axis=1)
            sel = cv2.dnn.NMSBoxes(xywh.tolist(), scores[idx].tolist(), self.score, self.nms_iou)
            kept.extend(idx[np.asarray(sel, dtype=int).reshape(-1)].tolist())
        k = np.asarray(sorted(kept), dtype=int)
        return boxes[k].astype(np.float32), scores[k].astype(np.float32), coco[k].astype(np.int64)


def _project_detector(model: Path, input_size: int, score: float, nms_iou: float) -> object | None:
    """The project's YOLOX detector when ``linewatch.detect.onnx`` exists, else None."""
    try:
        from linewatch.config import YoloxDetectorConfig
        from linewatch.detect.onnx import build_onnx_detector
    except ImportError:
        return None
    cfg = YoloxDetectorConfig(
        type="yolox",
        model=model,
        input_size=input_size,
        score_threshold=score,
        class_thresholds={"person": score},
        nms_iou=nms_iou,
        motion_gating=False,
        threads=2,
        provider="cpu",
    )
    return build_onnx_detector(cfg, None, None)


def detect_video(
    video: Path = PETS_VIDEO,
    model: Path = YOLOX_NANO,
    input_size: int = 416,
    score: float = 0.1,
    nms_iou: float = 0.45,
    classes: tuple[int, ...] = (0,),
    backend: str = "auto",
) -> dict[str, npt.NDArray[np.generic]]:
    """Run the detector over every frame; return the arrays that :func:`save` writes."""
    from linewatch.records import Frame, ObjectClass

    det = _project_detector(model, input_size, score, nms_iou) if backend != "mini" else None
    if backend == "project" and det is None:
        raise SystemExit("linewatch.detect.onnx is not available")
    mini = MiniYolox(model, input_size, score, nms_iou, classes) if det is None else None
    frames, boxes, scores, clss = [], [], [], []
    n = 0
    for i, img in enumerate(iter_frames(video)):
        if mini is not None:
            b, s, c = mini(img)
        else:
            d = det.detect(Frame("bench", i, i / 7.0, img))  # type: ignore[attr-defined]
            if classes == (0,):
                d = d[d.cls == ObjectClass.PERSON]
            b, s, c = d.xyxy, d.score, d.cls.astype(np.int64)
        frames.append(np.full(len(b), i, dtype=np.int32))
        boxes.append(b)
        scores.append(s)
        clss.append(c)
        n = i + 1
    return {
        "frame": np.concatenate(frames),
        "xyxy": np.concatenate(boxes).reshape(-1, 4).astype(np.float32),
        "score": np.concatenate(scores).astype(np.float32),
        "cls": np.concatenate(clss).astype(np.int64),
        "n_frames": np.asarray(n),
        "backend": np.asarray("mini-yolox" if mini is not None else "linewatch.detect.onnx"),
    }


def load(path: Path) -> tuple[int, list[tuple[F32, F32, npt.NDArray[np.int64]]]]:
    """(n_frames, per-frame (xyxy, score, cls)) from a cache file."""
    z = np.load(path)
    n = int(z["n_frames"])
    order = np.argsort(z["frame"], kind="stable")
    frame, xyxy, score, cls = (
        z["frame"][order],
        z["xyxy"][order],
        z["score"][order],
        z["cls"][order],
    )
    bounds = np.searchsorted(frame, np.arange(n + 1))
    return n, [(xyxy[a:b], score[a:b], cls[a:b]) for a, b in itertools.pairwise(bounds)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--video", type=Path, default=PETS_VIDEO)
    ap.add_argument("--model", type=Path, default=YOLOX_NANO)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--input-size", type=int, default=416)
    ap.add_argument("--score", type=float, default=0.1)
    ap.add_argument("--nms", type=float, default=0.45)
    ap.add_argument("--classes", default="0", help="COCO class ids, comma separated")
    ap.add_argument("--backend", choices=["auto", "project", "mini"], default="auto")
    args = ap.parse_args()
    t0 = time.perf_counter()
    arrays = detect_video(
        args.video,
        args.model,
        args.input_size,
        args.score,
        args.nms,
        tuple(int(c) for c in args.classes.split(",")),
        args.backend,
    )
    dt = time.perf_counter() - t0
    np.savez_compressed(args.out, **arrays)  # type: ignore[arg-type]
    n = int(arrays["n_frames"])
    print(
        f"{args.out}: {n} frames, {len(arrays['score'])} boxes "
        f"({arrays['backend']}), {dt:.1f} s ({1000 * dt / max(n, 1):.1f} ms/frame)"
    )


if __name__ == "__main__":
    main()
