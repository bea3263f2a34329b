"""Dreaming a 360° video with temporal coherence on the sphere, checkpointed and resumable.

Frame-by-frame dreaming flickers: each frame grows its own hallucinations.
The Hallucination Machine (Suzuki et al. 2017) carried the previous frame's
dream detail along the optical flow; this module does the same on the sphere:

1. first frame: a full dream of the raw frame;
2. each later frame: flow from the new raw frame back to the previous raw frame
   on padded cube faces (:mod:`vrdream.flow`), the previous dream detail
   (dream − raw) warped onto the new frame, added to the new raw frame with
   weight ``blend_moving`` where the frame moves and ``blend_static`` where it
   does not, and a short dream (``steps_next``) on top.

The dream itself is a callable, so that the seamless sphere engine (or a test's
stand-in) plugs in: ``dream_frame(raw, init, steps) -> dream``, all (1, 3, H, W)
in [0, 1]; ``init`` is None for a full dream from ``raw``. It must be
deterministic (e.g. a fixed seed), which is what makes a resumed job identical
to an uninterrupted one, and lets unchanged regions dream the same way twice.

Every finished frame is checkpointed (:mod:`vrdream.checkpoint`) and the loop
carries forward the frame exactly as stored, so rerunning an interrupted
command resumes after the last stored frame with the same result.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor

from .atomic import check_output
from .checkpoint import Job, open_job
from .engine import EngineOptions
from .errors import InputError, VrdreamError
from .flow import FlowSettings, motion_mask, sphere_flow, warp
from .progress import progress
from .quantize import to_uint8
from .record import Recipe, write_recorded_video
from .sphere import SphereOptions
from .tensors import to_numpy, to_tensor
from .videoio import EncodeSettings, VideoInfo, check_encoding, iter_frames, probe

if TYPE_CHECKING:
    from .dream import Dreamer

#: ``dream_frame(raw, init, steps) -> dream``: tensors (1, 3, H, W) in [0, 1]; ``init`` None = start from ``raw``.
DreamFrame = Callable[[Tensor, "Tensor | None", int], Tensor]


@dataclass(frozen=True)
class VideoSettings:
    """Temporal coherence: how much of the previous dream is carried, and how long each frame is dreamed.

    ``steps_first``/``steps_next``: the ``steps`` handed to the dream for the first frame / later frames.
    ``blend_moving``/``blend_static``: share of the previous frame's (warped) dream detail kept where the
    frame moves / is static; ``flow_threshold``: the moving/static cut on the per-frame min-max
    normalised motion (see :func:`vrdream.flow.motion_mask`). ``coherent=False`` dreams every frame
    independently with ``steps_first`` steps (the flickering baseline, for comparisons).

    Defaults: a short dream (4 steps) on 0.9 of the carried detail *everywhere*. The original kept only
    0.05 where nothing moves because it then dreamed every frame in full (see
    :data:`HALLUCINATION_MACHINE`); after a short dream, static regions would lose their dream. On the
    test video (docs/video_coherence.png) static 0.9 both keeps the dream and flickers less than 0.05
    (0.019 vs 0.023; independent per-frame dreams: 0.054).
    """

    steps_first: int = 10
    steps_next: int = 4
    blend_moving: float = 0.9
    blend_static: float = 0.9
    flow_threshold: float = 6 / 255
    flow: FlowSettings = field(default_factory=FlowSettings)
    coherent: bool = True

    def __post_init__(self) -> None:
        for name in ("steps_first", "steps_next"):
            if getattr(self, name) < 0:
                raise VrdreamError(f"--{name.replace('_', '-')} {getattr(self, name)}: must be 0 or more")
        for name in ("blend_moving", "blend_static"):
            if not 0 <= getattr(self, name) <= 1:
                raise VrdreamError(f"{name} {getattr(self, name)}: must be in [0, 1]")


#: The original's temporal settings: every frame dreamed with the full 16 iterations, blend 0.9/0.05,
#: threshold 6 (of 255). Its dream settings belong to the dream engine (docs/hallucination-machine.md).
HALLUCINATION_MACHINE = VideoSettings(
    steps_first=16, steps_next=16, blend_moving=0.9, blend_static=0.05, flow_threshold=6 / 255
)


def carry_detail(raw: Tensor, prev_raw: Tensor, prev_dream: Tensor, settings: VideoSettings) -> Tensor:
    """The starting image for dreaming ``raw``: ``raw`` plus the previous dream detail moved along the flow.

    All (1, 3, H, W). The detail ``prev_dream - prev_raw`` is warped onto the new frame on the sphere
    and weighted ``blend_moving`` where the frame moves, ``blend_static`` where it does not.
    """
    flow = sphere_flow(prev_raw, raw, settings.flow)
    detail = warp(prev_dream - prev_raw, flow)
    weight = settings.blend_static + (settings.blend_moving - settings.blend_static) * motion_mask(
        flow, settings.flow_threshold
    )
    return (raw + weight * detail).clamp(0, 1)


def next_dream(
    dream_frame: DreamFrame, raw: Tensor, prev_raw: Tensor | None, prev_dream: Tensor | None, settings: VideoSettings
) -> Tensor:
    """Dream one frame: a full dream for the first (or an independent) frame, else carried detail + a short dream."""
    if prev_raw is None or prev_dream is None or not settings.coherent:
        return dream_frame(raw, None, settings.steps_first)
    return dream_frame(raw, carry_detail(raw, prev_raw, prev_dream, settings), settings.steps_next)


def dream_frames(
    raws: Iterable[np.ndarray],
    dream_frame: DreamFrame,
    settings: VideoSettings,
    *,
    device: torch.device | str | None = None,
    prev: tuple[np.ndarray, np.ndarray] | None = None,
) -> Iterator[np.ndarray]:
    """Dream the raw frames ``(H, W, 3)`` float in [0, 1] in order; yield each dream as uint8.

    Each dream is carried on to the next frame exactly as yielded (8 bits, the form it is stored,
    checkpointed and encoded in), so a run resumed from stored frames, or frames re-made by
    ``vrdream verify --rerun``, come out bit for bit the same. ``prev``: the raw frame (float) and
    the dream (uint8) before the first, when resuming.
    """
    prev_raw = prev_dream = None
    if prev is not None:
        prev_raw = to_tensor(prev[0]).to(device)
        prev_dream = to_tensor(prev[1].astype(np.float32) / 255.0).to(device)
    for frame in raws:
        raw = to_tensor(frame).to(device)
        dream = to_uint8(to_numpy(next_dream(dream_frame, raw, prev_raw, prev_dream, settings).clamp(0, 1)))
        yield dream
        prev_raw, prev_dream = raw, to_tensor(dream.astype(np.float32) / 255.0).to(device)


def dream_span(
    raws_from: Callable[[int], Iterator[np.ndarray]],
    job: Job,
    dream_frame: DreamFrame,
    settings: VideoSettings,
    start: int,
    stop: int,
    *,
    warmup: int = 0,
    device: torch.device | str | None = None,
    on_frame: Callable[[], None] | None = None,
) -> int:
    """Dream frames ``start`` to ``stop`` (exclusive) into ``job``'s checkpoints; returns the index after the
    last frame stored (below ``stop`` when the raw frames run out first). ``raws_from(i)`` yields the raw
    frames from ``i`` on (e.g. ``functools.partial(iter_frames, path)``).

    Resumes after the last frame of the span already stored, carrying that frame on as stored. A span that
    starts afresh after frame 0 (a segment of a video dreamed by several workers) begins ``warmup`` frames
    early: those are dreamed and dropped, so that the detail carried into its first kept frame has built
    up as in one long run. ``on_frame`` is called after each stored frame.
    """
    first = start
    while first < stop and job.frame_path(first).exists():
        first += 1
    if first == stop:
        return stop
    if first > start:  # the last stored dream and its raw frame are the state to carry on from
        raws = raws_from(first - 1)
        prev = (next(raws), job.load_uint8(first - 1))
        begin = first
    else:
        begin = max(0, start - warmup)
        raws, prev = raws_from(begin), None
    done = first
    todo = itertools.islice(raws, stop - begin)
    for i, dream in enumerate(dream_frames(todo, dream_frame, settings, device=device, prev=prev), start=begin):
        if i >= start:
            job.save(i, dream)
            done = i + 1
            if on_frame:
                on_frame()
    return done


def fill_job(
    job: Job,
    raws_from: Callable[[int], Iterator[np.ndarray]],
    dream_frame: DreamFrame,
    settings: VideoSettings,
    *,
    source: str | Path,
    device: torch.device | str | None = None,
    quiet: bool = False,
    on_frame: Callable[[], None] | None = None,
) -> None:
    """Dream every frame of ``job`` not yet stored (:func:`dream_span` over the whole job), with a progress
    bar; ``source`` is named when the raw frames run out early. ``on_frame`` is called after each frame
    (a batch's progress)."""
    with (
        job.resumable(),
        progress(job.frames, "dreaming frames", quiet, unit="frame", initial=job.first_missing()) as bar,
    ):

        def step() -> None:
            bar.update(1)
            if on_frame:
                on_frame()

        done = dream_span(raws_from, job, dream_frame, settings, 0, job.frames, device=device, on_frame=step)
    if done < job.frames:
        raise InputError(source, f"video ended after {done} of {job.frames} frames")


def dream_video(
    input_path: str | Path,
    output: str | Path,
    dream_frame: DreamFrame,
    settings: VideoSettings = VideoSettings(),
    *,
    encode: EncodeSettings = EncodeSettings(),
    dream_id: str = "",
    device: torch.device | str | None = None,
    overwrite: bool = False,
    quiet: bool = False,
    keep_checkpoints: bool = False,
    recipe: Recipe | None = None,
    on_frame: Callable[[], None] | None = None,
) -> Path:
    """Dream every frame of the equirect video ``input_path`` into ``output`` (360° metadata, audio copied).

    ``dream_id``: a stable description of the dream engine's settings (backbone, objective, seed, ...);
    with the input's identity and ``settings`` it names the checkpoint job, so rerunning the same
    command resumes, and changing anything starts afresh. ``encode`` is not part of it: re-encoding
    with another codec reuses the dreamed frames. Checkpoints are removed after a successful encode
    unless ``keep_checkpoints``. ``recipe``: the provenance record to write beside the output
    (:mod:`vrdream.record`). ``on_frame`` is called after each frame is dreamed (a batch's progress).
    Raises :class:`InputError` for an unreadable input.
    """
    out = check_output(output, inputs=[input_path], overwrite=overwrite)
    check_encoding(out, encode)
    info = probe(input_path)
    job = open_job(input_path, out, (settings, dream_id), info.frames)
    fill_job(
        job,
        functools.partial(iter_frames, input_path),
        dream_frame,
        settings,
        source=input_path,
        device=device,
        quiet=quiet,
        on_frame=on_frame,
    )
    return encode_job(
        job, out, input_path, info, encode, recipe=recipe, overwrite=overwrite, keep_checkpoints=keep_checkpoints
    )


def encode_job(
    job: Job,
    out: Path,
    input_path: str | Path,
    info: VideoInfo,
    encode: EncodeSettings,
    *,
    recipe: Recipe | None = None,
    overwrite: bool = False,
    keep_checkpoints: bool = False,
) -> Path:
    """Encode ``job``'s stored frames into ``out`` at the input's frame rate, with its audio and ``recipe``'s
    record; then remove the checkpoints unless ``keep_checkpoints``."""
    write_recorded_video(
        out,
        job.iter_frames(),
        info.fps,
        recipe,
        settings=encode,
        audio_from=input_path if info.audio else None,
        overwrite=overwrite,
        inputs=[input_path],
    )
    if not keep_checkpoints:
        job.remove()
    return out


def warped_difference(raws: Sequence[Tensor], dreams: Sequence[Tensor], flow: FlowSettings = FlowSettings()) -> float:
    """Temporal instability: mean |dream_i − dream_{i−1} warped by the raw frames' flow| over i ≥ 1.

    What a viewer sees as flicker: the part of the change between consecutive dreamed frames that
    the scene's own motion does not explain. Frames are (1, 3, H, W).
    """
    diffs = [
        (dreams[i] - warp(dreams[i - 1], sphere_flow(raws[i - 1], raws[i], flow))).abs().mean().item()
        for i in range(1, len(dreams))
    ]
    return float(np.mean(diffs))


def check_video_job(src: str | Path, dst: str | Path, encode: EncodeSettings, *, overwrite: bool = False) -> VideoInfo:
    """What ``vrdream video`` checks before any model loads: a 2:1 input, a writable output; the input's info."""
    info = probe(src)
    if info.width != 2 * info.height:
        raise InputError(
            src, f"is {info.width}x{info.height}, not 2:1: vrdream video dreams equirectangular 360° videos"
        )
    check_output(dst, inputs=[src], overwrite=overwrite)
    check_encoding(dst, encode)
    return info


def video_file(
    src: str | Path,
    dst: str | Path,
    engine: EngineOptions = EngineOptions(),
    video: VideoSettings | None = None,
    *,
    sphere: SphereOptions = SphereOptions(),
    encode: EncodeSettings = EncodeSettings(),
    overwrite: bool = False,
    quiet: bool = False,
    keep_checkpoints: bool = False,
    dreamer: Dreamer | None = None,
    on_frame: Callable[[], None] | None = None,
) -> Path:
    """``vrdream video``: dream the 360° video ``src`` into ``dst`` with the seamless sphere engine.

    ``video`` None: the temporal settings the preset implies (:func:`vrdream.presets.video_settings`).
    ``dreamer``: the engine built for ``engine``, to reuse across files (None: built here); ``on_frame``:
    called after each frame (:func:`dream_video`).

    >>> video_file("clip.mp4", "dream.mp4", EngineOptions(preset="hallucination-machine"))  # doctest: +SKIP
    """
    from .engine import build_dreamer
    from .presets import video_settings
    from .record import dream_recipe

    check_video_job(src, dst, encode, overwrite=overwrite)
    dreamer = build_dreamer(engine) if dreamer is None else dreamer
    video = video or video_settings(engine.preset, engine.settings)
    settings = {"engine": engine.resolved(dreamer), "video": video, "sphere": sphere, "encode": encode}
    return dream_video(
        src,
        dst,
        sphere_dream_frame(dreamer, sphere),
        video,
        encode=encode,
        dream_id=repr((engine, sphere)),
        device=dreamer.device,
        overwrite=overwrite,
        quiet=quiet,
        keep_checkpoints=keep_checkpoints,
        recipe=dream_recipe("video", settings, [src], engine, dreamer),
        on_frame=on_frame,
    )


def sphere_dream_frame(dreamer: Dreamer, sphere: SphereOptions) -> DreamFrame:
    """The seamless sphere engine as a :data:`DreamFrame`."""
    from .sphere import dream_sphere

    def dream_frame(raw: Tensor, init: Tensor | None, steps: int) -> Tensor:
        return dream_sphere(raw, dreamer, sphere, init=init, steps=steps)

    return dream_frame


def remake_video_frames(
    recipe: Mapping[str, Any], source: Path, frames: Sequence[int], device: str
) -> dict[int, np.ndarray]:
    """Frames ``frames`` of a ``vrdream video`` output re-made on ``device`` from its recipe (``source``: its
    input): the dream runs from the first frame to the last one asked for (each carries the one before)."""
    from .engine import build_dreamer
    from .record import from_json

    s = recipe["settings"]
    engine = from_json(EngineOptions, s["engine"])
    dreamer = build_dreamer(dataclasses.replace(engine, settings=engine.settings.replace(device=device)))
    made = dream_frames(
        itertools.islice(iter_frames(source), max(frames) + 1),
        sphere_dream_frame(dreamer, from_json(SphereOptions, s["sphere"])),
        from_json(VideoSettings, s["video"]),
        device=dreamer.device,
    )
    wanted = set(frames)
    return {i: frame for i, frame in enumerate(made) if i in wanted}
