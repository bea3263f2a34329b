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
from .settings import CROSSFADE_FRAMES, SEGMENT_FRAMES, WARMUP_FRAMES
from .sphere import SphereOptions
from .tensors import to_numpy, to_tensor
from .videoio import EncodeSettings, VideoInfo, check_encoding, iter_frames, probe

if TYPE_CHECKING:
    from tqdm import tqdm

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

    ``segment_frames``: the detail is carried along for this many frames, then a fresh dream takes over
    (0: never, one segment). Each segment after the first starts ``warmup_frames + crossfade_frames`` frames
    early, is faded in over ``crossfade_frames`` and needs nothing from the segment before, so the segments of
    a long video can be dreamed on several workers at once and the video is the same for any number of
    workers (:mod:`vrdream.segments`). The price: those early frames, dreamed twice
    (see :data:`vrdream.settings.SEGMENT_FRAMES`).
    """

    steps_first: int = 10
    steps_next: int = 4
    blend_moving: float = 0.9
    blend_static: float = 0.9
    flow_threshold: float = 6 / 255
    flow: FlowSettings = field(default_factory=FlowSettings)
    coherent: bool = True
    segment_frames: int = SEGMENT_FRAMES
    crossfade_frames: int = CROSSFADE_FRAMES
    warmup_frames: int = WARMUP_FRAMES

    def __post_init__(self) -> None:
        if self.crossfade_frames > self.segment_frames > 0:
            raise VrdreamError(f"crossfade_frames {self.crossfade_frames}: must not exceed segment_frames")
        for name in ("steps_first", "steps_next", "segment_frames", "crossfade_frames", "warmup_frames"):
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


@dataclass(frozen=True)
class Segment:
    """One segment of a video's frames (:func:`plan_segments`): dreamed from ``begin``; frames ``begin..lead-1``
    are warm-up (dreamed and dropped), ``lead..start-1`` the lead-in (stored, crossfaded into the previous
    segment's last frames), ``start..stop-1`` the segment's own frames."""

    begin: int
    lead: int
    start: int
    stop: int


def plan_segments(frames: int, settings: VideoSettings) -> list[Segment]:
    """The segments of a ``frames``-frame video: ``settings.segment_frames`` each (one for the whole video when 0),
    each after the first led in by ``crossfade_frames`` after ``warmup_frames``; none when frames are
    dreamed independently (``coherent=False``: nothing is carried, so nothing needs leading in)."""
    size = settings.segment_frames or max(frames, 1)
    segments = []
    for start in range(0, frames, size):
        lead = max(0, start - settings.crossfade_frames) if settings.coherent else start
        begin = max(0, lead - settings.warmup_frames) if lead < start else lead
        segments.append(Segment(begin, lead, start, min(start + size, frames)))
    return segments


def crossfade_weight(i: int, frames: int, settings: VideoSettings) -> float:
    """The weight of the next segment's lead-in in output frame ``i`` of a ``frames``-frame video: rising
    linearly over the ``crossfade_frames`` before a segment's start (1/(n+1), ..., n/(n+1)); 0 elsewhere."""
    n, size = settings.crossfade_frames, settings.segment_frames
    if not (size and n and settings.coherent):
        return 0.0
    start = (i // size + 1) * size  # the next segment's first frame
    if start >= frames or i < start - n:
        return 0.0
    return (i - (start - n) + 1) / (n + 1)


def joined_frame(own: np.ndarray, lead: Callable[[], np.ndarray], weight: float) -> np.ndarray:
    """An output frame, uint8: its segment's own dream ``own`` crossfaded towards the next segment's lead-in
    (``lead()``, read only when ``weight`` > 0)."""
    if weight == 0:
        return own
    a = own.astype(np.float32) / 255.0
    return to_uint8(a + np.float32(weight) * (lead().astype(np.float32) / 255.0 - a))


def job_frame(job: Job, settings: VideoSettings, i: int) -> np.ndarray:
    """Output frame ``i`` of a video job whose segments are all stored, uint8 ``(H, W, 3)``."""
    weight = crossfade_weight(i, job.frames, settings)
    return joined_frame(job.load_uint8(i), lambda: job.load_uint8(i, lead=True), weight)


def segment_dreams(
    raws_from: Callable[[int], Iterator[np.ndarray]],
    dream_frame: DreamFrame,
    settings: VideoSettings,
    segment: Segment,
    *,
    device: torch.device | str | None = None,
    after: tuple[int, np.ndarray] | None = None,
) -> Iterator[tuple[int, np.ndarray]]:
    """``(i, dream)`` (uint8) for the frames ``segment`` stores, in order (lead-in, then its own): from
    ``segment.lead``, or after ``after`` = (frame index, its stored dream) when resuming. ``raws_from(i)``
    yields the raw frames from ``i`` on (e.g. ``functools.partial(iter_frames, path)``)."""
    if after is None:
        begin, raws = segment.begin, raws_from(segment.begin)
        prev = None
    else:
        raws = raws_from(after[0])
        begin, prev = after[0] + 1, (next(raws), after[1])
    made = dream_frames(itertools.islice(raws, segment.stop - begin), dream_frame, settings, device=device, prev=prev)
    for i, dream in enumerate(made, start=begin):
        if i >= segment.lead:
            yield i, dream


def dream_segment(
    raws_from: Callable[[int], Iterator[np.ndarray]],
    job: Job,
    dream_frame: DreamFrame,
    settings: VideoSettings,
    segment: Segment,
    *,
    device: torch.device | str | None = None,
    on_frame: Callable[[], None] | None = None,
) -> int:
    """Dream ``segment`` into ``job``'s checkpoints (lead-in frames as ``lead``); returns the index after its last
    own frame stored (below ``segment.stop`` when the raw frames run out first).

    Resumes after the segment's last stored frame, carrying that frame on as stored, so an interrupted segment
    ends as an uninterrupted one. A segment needs nothing from another: segments can be dreamed in any order,
    on any worker, and the video comes out the same. ``on_frame`` is called after each stored frame.
    """
    first = segment.lead  # the first frame not yet stored
    while first < segment.stop and job.frame_path(first, lead=first < segment.start).exists():
        first += 1
    if first == segment.stop:
        return segment.stop
    last = first - 1
    after = None if first == segment.lead else (last, job.load_uint8(last, lead=last < segment.start))
    done = max(segment.start, first)
    for i, dream in segment_dreams(raws_from, dream_frame, settings, segment, device=device, after=after):
        job.save(i, dream, lead=i < segment.start)
        done = max(done, i + 1)
        if on_frame:
            on_frame()
    return done


def segments_progress(job: Job, segments: Sequence[Segment], quiet: bool = False) -> tqdm:
    """A bar over the frames ``segments`` store (lead-in and own), starting from those ``job`` already holds."""
    total = sum(s.stop - s.lead for s in segments)
    stored = sum(job.frame_path(i, lead=i < s.start).exists() for s in segments for i in range(s.lead, s.stop))
    return progress(total, "dreaming frames", quiet, unit="frame", initial=stored)


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
    """Dream every segment of ``job`` (:func:`dream_segment`) in order, with a progress bar; ``source`` is named when
    the raw frames run out early. ``on_frame`` is called after each frame (a batch's progress)."""
    segments = plan_segments(job.frames, settings)
    with job.resumable(), segments_progress(job, segments, quiet) as bar:

        def step() -> None:
            bar.update(1)
            if on_frame:
                on_frame()

        for segment in segments:
            done = dream_segment(raws_from, job, dream_frame, settings, segment, device=device, on_frame=step)
            if done < segment.stop:
                raise InputError(source, f"video ended after {done} of {job.frames} frames")


def remade_frames(
    raws_from: Callable[[int], Iterator[np.ndarray]],
    dream_frame: DreamFrame,
    settings: VideoSettings,
    frames: int,
    wanted: Iterable[int],
    *,
    device: torch.device | str | None = None,
) -> dict[int, np.ndarray]:
    """Output frames ``wanted`` (uint8) of a ``frames``-frame video job made again without its checkpoints:
    each from its segment's start (and the next segment's lead-in where it crossfades)."""
    picks = sorted(set(wanted))
    own: dict[int, np.ndarray] = {}
    lead: dict[int, np.ndarray] = {}
    for segment in plan_segments(frames, settings):
        mine = [i for i in picks if segment.lead <= i < segment.stop]
        for i, dream in segment_dreams(raws_from, dream_frame, settings, segment, device=device) if mine else ():
            if i in mine:
                (lead if i < segment.start else own)[i] = dream
            if i == mine[-1]:
                break
    weight = functools.partial(crossfade_weight, frames=frames, settings=settings)
    return {i: joined_frame(own[i], functools.partial(lead.__getitem__, i), weight(i)) for i in picks}


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
        job,
        settings,
        out,
        input_path,
        info,
        encode,
        recipe=recipe,
        overwrite=overwrite,
        keep_checkpoints=keep_checkpoints,
    )


def encode_job(
    job: Job,
    settings: VideoSettings,
    out: Path,
    input_path: str | Path,
    info: VideoInfo,
    encode: EncodeSettings,
    *,
    recipe: Recipe | None = None,
    overwrite: bool = False,
    keep_checkpoints: bool = False,
) -> Path:
    """Encode ``job``'s frames (dreamed with ``settings``: :func:`job_frame`) into ``out`` at the input's frame
    rate, with its audio and ``recipe``'s record; then remove the checkpoints unless ``keep_checkpoints``."""
    write_recorded_video(
        out,
        (job_frame(job, settings, i) for i in range(job.frames)),
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


def pair_flicker(raws: Sequence[Tensor], dreams: Sequence[Tensor], flow: FlowSettings = FlowSettings()) -> list[float]:
    """Temporal instability of each consecutive pair: mean |dream_i − dream_{i−1} warped by the raw frames'
    flow| for i ≥ 1 (entry i − 1).

    What a viewer sees as flicker: the part of the change between consecutive dreamed frames that
    the scene's own motion does not explain. Frames are (1, 3, H, W).
    """
    return [
        (dreams[i] - warp(dreams[i - 1], sphere_flow(raws[i - 1], raws[i], flow))).abs().mean().item()
        for i in range(1, len(dreams))
    ]


def warped_difference(raws: Sequence[Tensor], dreams: Sequence[Tensor], flow: FlowSettings = FlowSettings()) -> float:
    """The mean of :func:`pair_flicker` over the clip."""
    return float(np.mean(pair_flicker(raws, dreams, flow)))


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

    check_video_job(src, dst, encode, overwrite=overwrite)
    dreamer = build_dreamer(engine) if dreamer is None else dreamer
    video = video or video_settings(engine.preset, engine.settings)
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
        recipe=video_recipe(src, engine, video, sphere, encode, dreamer),
        on_frame=on_frame,
    )


def video_recipe(
    src: str | Path,
    engine: EngineOptions,
    video: VideoSettings,
    sphere: SphereOptions,
    encode: EncodeSettings,
    dreamer: Dreamer,
) -> Recipe:
    """The provenance record of ``vrdream video``'s output (:mod:`vrdream.record`): what
    :func:`remake_video_frames` needs to make its frames again. The number of workers is not in it: the
    frames do not depend on it."""
    from .record import dream_recipe

    settings = {"engine": engine.resolved(dreamer), "video": video, "sphere": sphere, "encode": encode}
    return dream_recipe("video", settings, [src], engine, dreamer)


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
    input): each segment that holds one runs from its start to the last one asked for (:func:`remade_frames`)."""
    from .engine import build_dreamer
    from .record import from_json

    s = recipe["settings"]
    engine = from_json(EngineOptions, s["engine"])
    dreamer = build_dreamer(dataclasses.replace(engine, settings=engine.settings.replace(device=device)))
    video = from_json(VideoSettings, s["video"])
    if "segment_frames" not in s["video"]:  # recorded before videos came in segments: one segment
        video = dataclasses.replace(video, segment_frames=0)
    return remade_frames(
        functools.partial(iter_frames, source),
        sphere_dream_frame(dreamer, from_json(SphereOptions, s["sphere"])),
        video,
        probe(source).frames,
        frames,
        device=dreamer.device,
    )
