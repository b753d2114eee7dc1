"""onnxruntime sessions for the ONNX detectors: providers, threads, shape checks.

A session is created when a detector is built (never at import or config validation).
Exports with a fixed input height/width (YOLOX's official ``yolox_nano.onnx`` is fixed at
416x416) are relaxed to a free height/width when the ``onnx`` package is installed and the
graph allows it (checked by running it at two sizes); that lets the same file run at other
input sizes and on motion-gated crops. Otherwise the fixed size is kept and a configured
``input_size`` that differs from it is an error.
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from linewatch.detect.base import DetectorError
from linewatch.detect.formats import ModelFormat

log = logging.getLogger(__name__)

CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"


def choose_providers(provider: str, available: list[str]) -> list[str]:
    """onnxruntime providers for the config's ``provider`` (auto: CUDA when available)."""
    if provider == "cpu":
        return [CPU]
    if provider == "cuda":
        if CUDA not in available:
            raise DetectorError(
                f"provider: cuda, but this onnxruntime has no {CUDA} (available: "
                f"{', '.join(available)}); install onnxruntime-gpu or use provider: auto/cpu"
            )
        return [CUDA, CPU]
    if provider == "auto":
        return [CUDA, CPU] if CUDA in available else [CPU]
    raise DetectorError(f"unknown provider {provider!r}; allowed: auto, cpu, cuda")


def _dims(shape: list[Any]) -> tuple[int | None, ...]:
    return tuple(d if isinstance(d, int) and d > 0 else None for d in shape)


class OnnxModel:
    """A checked onnxruntime session: one float32 NCHW input, one output."""

    def __init__(
        self,
        session: Any,
        fmt: ModelFormat,
        path: Path,
        free_hw: bool,
    ) -> None:
        inp = session.get_inputs()[0]
        self.session = session
        self.path = path
        self.input_name: str = inp.name
        dims = _dims(list(inp.shape))
        self.batch_dynamic: bool = dims[0] is None
        self.free_hw: bool = free_hw or (dims[2] is None and dims[3] is None)
        self.fixed_hw: tuple[int, int] | None = (
            None if self.free_hw or dims[2] is None or dims[3] is None else (dims[2], dims[3])
        )
        self.providers: list[str] = list(session.get_providers())
        self._fmt = fmt

    def run(self, batch: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """Raw output for an (N, 3, H, W) batch (N > 1 only when ``batch_dynamic``)."""
        out = self.session.run(None, {self.input_name: batch})[0]
        problem = self._fmt.check_output(tuple(out.shape), batch.shape[3], batch.shape[2])
        if problem is not None:
            raise DetectorError(f"{self.path}: not a {self._fmt.name} model: {problem}")
        return np.asarray(out, dtype=np.float32)


def _relaxed_bytes(path: Path) -> bytes | None:
    """The model with free input height/width and free output dims, or None (no ``onnx``)."""
    try:
        import onnx
    except ImportError:
        return None
    try:
        m = onnx.load(str(path))
        dims = m.graph.input[0].type.tensor_type.shape.dim
        if len(dims) != 4:
            return None
        for i, name in ((2, "height"), (3, "width")):
            dims[i].ClearField("dim_value")
            dims[i].dim_param = name
        for k, d in enumerate(m.graph.output[0].type.tensor_type.shape.dim):
            if k > 0:
                d.ClearField("dim_value")
                d.dim_param = f"out{k}"
        return bytes(m.SerializeToString())
    except Exception as e:  # a model onnx cannot edit: keep it as it is
        log.debug("cannot relax %s: %s", path, e)
        return None


def open_model(
    path: Path, fmt: ModelFormat, input_size: int, threads: int, provider: str
) -> OnnxModel:
    """Create and check the session; raise DetectorError naming the expected shapes."""
    import onnxruntime as ort  # lazy: heavy back-end

    expect = f"expected a {fmt.name} ONNX export with input {fmt.input_layout} and output " + (
        fmt.output_layout
    )
    if not path.is_file():
        raise DetectorError(f"model file not found: {path} ({expect})")
    providers = choose_providers(provider, list(ort.get_available_providers()))
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    # no busy-waiting between runs: the decoder, tracker and other cameras need the cores
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    opts.log_severity_level = 3

    def make(source: str | bytes, quiet: bool = False) -> Any:
        opts.log_severity_level = 4 if quiet else 3  # a failed relax attempt is not an error
        return ort.InferenceSession(source, sess_options=opts, providers=providers)

    try:
        session = make(str(path))
    except Exception as e:
        raise DetectorError(f"{path}: cannot load the model ({e}); {expect}") from None
    inputs, outputs = session.get_inputs(), session.get_outputs()
    if len(inputs) != 1 or len(outputs) < 1:
        raise DetectorError(
            f"{path}: model has {len(inputs)} inputs and {len(outputs)} outputs; {expect}"
        )
    shape = _dims(list(inputs[0].shape))
    if len(shape) != 4 or shape[1] not in (3, None) or "float" not in inputs[0].type:
        raise DetectorError(
            f"{path}: input {inputs[0].name} is {inputs[0].type} {list(inputs[0].shape)}; {expect}"
        )
    model = OnnxModel(session, fmt, path, free_hw=False)
    if model.fixed_hw is not None:
        relaxed = _relaxed_bytes(path)
        if relaxed is not None:
            with contextlib.suppress(Exception):
                candidate = OnnxModel(make(relaxed, quiet=True), fmt, path, free_hw=True)
                _probe(candidate, 64, 96, expect)
                model = candidate
    if model.fixed_hw is not None and model.fixed_hw != (input_size, input_size):
        h, w = model.fixed_hw
        raise DetectorError(
            f"{path}: the model's input is fixed at {h}x{w} but input_size is {input_size}; "
            f"set input_size: {h} or export the model with a free input size"
        )
    _probe(model, input_size, input_size, expect)
    return model


def _probe(model: OnnxModel, h: int, w: int, expect: str) -> None:
    """Run once on a blank input: raises DetectorError when the output does not fit."""
    try:
        model.run(np.zeros((1, 3, h, w), dtype=np.float32))
    except DetectorError as e:
        raise DetectorError(f"{e}; {expect}") from None
    except Exception as e:
        raise DetectorError(
            f"{model.path}: the model failed on a 1x3x{h}x{w} input ({e}); {expect}"
        ) from None
