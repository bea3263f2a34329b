"""Experiment-grade stimulus sets: one 360° clip as matched videos that differ only in the hallucination.

A set (``vrdream stimuli IN.mp4 -o DIR``) holds:

- ``control.mp4``: the raw clip through the *same* path as every dreamed video: decoded to 8-bit RGB by
  PyAV, resized (``width``) with :func:`vrdream.photosphere.resize` and quantised by
  :func:`vrdream.quantize.to_uint8`, encoded with the same :class:`~vrdream.videoio.EncodeSettings`,
  frame rate, frame count, audio and 360° metadata. Those 8-bit frames are the *raw* frames every
  level dreams on, so a condition differs from the control by its dream alone;
- ``LEVEL-S.mp4`` for each level × strength ``S``: a level is a named preset (a backbone layer from
  the registry, :data:`LEVELS` says which literature condition it stands for), dreamed with temporal
  coherence (:mod:`vrdream.video`) once per level. The *strength* scales the dream's detail:
  frame ``i`` is ``control_i + S · (dream_i − control_i)``, quantised; ``S`` = 1 is the level's dream,
  ``S`` = 0 is the control, frame for frame and bit for bit;
- with ``fade``, ``LEVEL-S-fade.mp4``: the strength follows a raised cosine over the clip, control at
  the first and last frame, ``S`` in the middle (held there for ``hold`` of the clip), by frame index;
- ``sheet.png``: the same frames of every condition, as decoded from the files.

With ``loop`` the dream is carried on past the last frame through the first ``loop_frames`` frames
again, and those first frames blend (raised cosine) from that second pass into the first one, so the
last frame's dream flows into the first frame's: the clip loops without a jump in its hallucination
(the raw clip itself has to loop for the whole video to).

Every output has its provenance record (:mod:`vrdream.record`); each level's dream is checkpointed
(:mod:`vrdream.checkpoint`) and a finished video whose record matches is not made again, so rerunning
an interrupted command resumes it.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .atomic import check_output
from .errors import InputError, VrdreamError
from .quantize import to_uint8
from .record import Recipe, dream_recipe, read_record, sha256_of, sidecar_path, write_record, write_recorded_video
from .settings import LEVELS, SIZE_MULTIPLE, StimulusSettings

if TYPE_CHECKING:  # the rest is imported where it runs
    from .engine import EngineOptions
    from .sphere import SphereOptions
    from .video import VideoSettings
    from .videoio import EncodeSettings, VideoInfo


@dataclass(frozen=True)
class Condition:
    """One video of a set: ``level`` None is the control."""

    level: str | None = None
    strength: float = 0.0
    fade: bool = False

    @property
    def name(self) -> str:
        if self.level is None:
            return "control"
        return f"{self.level}-{self.strength:g}" + ("-fade" if self.fade else "")


def conditions(settings: StimulusSettings) -> list[Condition]:
    """The set's videos in order: the control, then each level's strengths (and their fades)."""
    fades = (False, True) if settings.fade else (False,)
    return [Condition()] + [
        Condition(level, strength, fade)
        for level in settings.levels
        for fade in fades
        for strength in settings.strengths
    ]


def loop_length(settings: StimulusSettings, frames: int) -> int:
    """Frames of the loop's join: 0 without ``loop``, else ``loop_frames`` (default a quarter of the clip)."""
    if not settings.loop:
        return 0
    k = settings.loop_frames if settings.loop_frames is not None else max(1, frames // 4)
    if k > frames:
        raise VrdreamError(f"--loop-frames {k}: the clip has only {frames} frames")
    return k


def strength_weights(condition: Condition, frames: int, hold: float, loop: bool) -> np.ndarray:
    """(frames,) share of the dream detail in each frame of ``condition``.

    A fade is a raised cosine (:func:`vrdream.fade.fade_weights`) from the control at frame 0 to the
    strength and back; a looping clip's cycle closes after its last frame, otherwise on it, so the
    last frame is the control too.
    """
    from .fade import fade_weights

    if not condition.fade:
        return np.full(frames, condition.strength)
    cycle = fade_weights(frames, hold) if loop or frames < 2 else np.append(fade_weights(frames - 1, hold), 0.0)
    return condition.strength * cycle


def join_weights(loop_frames: int) -> np.ndarray:
    """(loop_frames,) weight of the first pass in the loop's first frames: 0 at frame 0, rising to 1."""
    return 0.5 - 0.5 * np.cos(math.pi * np.arange(loop_frames) / loop_frames)


def level_dream(stored: Callable[[int], np.ndarray], i: int, frames: int, loop_frames: int) -> np.ndarray:
    """Frame ``i`` of a level's dream, float (H, W, 3): ``stored(j)`` is the job's uint8 frame ``j``
    (frames ``frames..frames+loop_frames-1`` are the loop's second pass over the first frames)."""
    first = stored(i).astype(np.float32) / 255.0
    if i >= loop_frames:
        return first
    b = join_weights(loop_frames)[i]
    return b * first + (1 - b) * (stored(frames + i).astype(np.float32) / 255.0)


def mix(control: np.ndarray, dream: np.ndarray, weight: float) -> np.ndarray:
    """``control + weight · (dream − control)`` as uint8; control float (H, W, 3) of 8-bit values."""
    if weight == 0:
        return to_uint8(control)  # exactly the control's bytes, whatever the dream
    return to_uint8(control + np.float32(weight) * (dream - control))


def shared_frames(path: str | Path, size: tuple[int, int], start: int = 0) -> Iterator[np.ndarray]:
    """The clip's frames from ``start`` on through the set's shared path: decoded to 8-bit RGB, resized to
    ``size`` (height, width) when it differs, quantised; float32 (H, W, 3) of 8-bit values."""
    from .photosphere import resize
    from .videoio import iter_rgb24

    for frame in iter_rgb24(path, start):
        if frame.shape[:2] != size:
            frame = to_uint8(resize(frame.astype(np.float32) / 255.0, height=size[0], width=size[1]))
        yield frame.astype(np.float32) / 255.0


def exact_count(frames: Iterator[np.ndarray], count: int, source: str | Path) -> Iterator[np.ndarray]:
    """The first ``count`` of ``frames``; an :class:`InputError` naming ``source`` when there are fewer."""
    n = 0
    for frame in itertools.islice(frames, count):
        yield frame
        n += 1
    if n < count:
        raise InputError(source, f"video ended after {n} of {count} frames")


@dataclass(frozen=True)
class _Plan:
    """What the whole set shares: the input, its probe, the output size, the loop and the encode."""

    src: Path
    info: VideoInfo
    size: tuple[int, int]  # height, width
    loop_frames: int
    settings: StimulusSettings
    sphere: SphereOptions
    encode: EncodeSettings

    def control(self, start: int = 0) -> Iterator[np.ndarray]:
        return exact_count(shared_frames(self.src, self.size, start), self.info.frames - start, self.src)

    def raws_from(self, start: int) -> Iterator[np.ndarray]:
        """The raw frames a level dreams, from job frame ``start`` on: the clip, then its first frames again."""
        n = self.info.frames
        first = self.control(min(start, n))
        again = itertools.islice(shared_frames(self.src, self.size), self.loop_frames)
        return itertools.chain(first, itertools.islice(again, max(0, start - n), None))

    def recorded(self, condition: Condition, extra: Mapping[str, object]) -> dict[str, object]:
        """What determines ``condition``'s video (not the rest of the set: adding a level or ``--fade`` to a
        finished set leaves its videos as they are)."""
        return {
            "condition": condition,
            **({"hold": self.settings.hold} if condition.fade else {}),
            "loop": self.settings.loop,
            "frames": self.info.frames,
            "fps": self.info.fps,
            "size": self.size,
            "loop_frames": self.loop_frames,
            "sphere": self.sphere,
            "encode": self.encode,
            **extra,
        }


def level_engine(level: str, changes: Mapping[str, Any]) -> EngineOptions:
    """The engine of ``level``: its preset's settings with ``changes`` (seed, steps, device, ...) applied."""
    from .engine import EngineOptions
    from .presets import get_preset

    preset = LEVELS[level].preset
    return EngineOptions(get_preset(preset).settings.replace(**changes), preset=preset)


def level_video(level: str, engine: EngineOptions, steps_next: int | None) -> VideoSettings:
    """The temporal settings of ``level`` (its preset's, :func:`vrdream.presets.video_settings`)."""
    from .presets import video_settings

    video = video_settings(LEVELS[level].preset, engine.settings)
    return video if steps_next is None else dataclasses.replace(video, steps_next=steps_next)


def stimulus_set(
    src: str | Path,
    out_dir: str | Path,
    settings: StimulusSettings = StimulusSettings(),
    *,
    dream: Mapping[str, Any] | None = None,
    steps_next: int | None = None,
    sphere: SphereOptions | None = None,
    encode: EncodeSettings | None = None,
    overwrite: bool = False,
    quiet: bool = False,
) -> list[Path]:
    """``vrdream stimuli``: the matched set of ``src`` in ``out_dir``; returns the files written.

    ``dream``: changes to every level's preset settings (``seed``, ``steps``, ``device`` ...: any
    :class:`~vrdream.dream.DreamSettings` field but the backbone and objective, which the level sets).
    ``sphere``, ``encode``: the dream canvas and the encoding of every video (None: their defaults).

    >>> stimulus_set("plaza.mp4", "set", StimulusSettings(levels=("edges", "objects")))  # doctest: +SKIP
    """
    from .sphere import SphereOptions
    from .videoio import EncodeSettings, check_encoding, probe

    sphere = sphere or SphereOptions()
    encode = encode or EncodeSettings()
    changes = dict(dream or {})
    fixed = [k for k in changes if k in ("backbone", "objective")]
    if fixed:
        raise VrdreamError(f"--{fixed[0]}: the level decides it (see --levels)")
    for level in settings.levels:
        level_engine(level, changes)  # any bad change fails here, before anything is read or made
    src, folder = Path(src), Path(out_dir)
    if folder.exists() and not folder.is_dir():
        raise VrdreamError(f"{folder}: not a folder")
    info = probe(src)
    if info.width != 2 * info.height:
        raise InputError(src, f"is {info.width}x{info.height}, not 2:1: stimuli are equirectangular 360° videos")
    width = settings.width or info.width
    if width % SIZE_MULTIPLE:
        raise InputError(src, f"is {info.width} wide, not a multiple of {SIZE_MULTIPLE}: pass --width")
    check_encoding(folder / "control.mp4", encode)
    plan = _Plan(src, info, (width // 2, width), loop_length(settings, info.frames), settings, sphere, encode)
    written = [_write_control(plan, folder, overwrite)]
    for level in settings.levels:
        written += _write_level(plan, folder, level, changes, steps_next, overwrite, quiet)
    written.append(_write_sheet(plan, written, folder / "sheet.png", overwrite))
    return written


def _finished(out: Path, recipe: Mapping[str, Any]) -> bool:
    """Whether ``out`` was made by ``recipe`` already (its record says so, whatever command line made it:
    adding ``--fade`` to a finished set or resuming with ``-q`` keeps what is there): a rerun skips it."""
    side = sidecar_path(out)
    if not (out.exists() and side.exists()):
        return False

    def made_by(r: Mapping[str, Any]) -> str:
        return sha256_of({k: v for k, v in r.items() if k != "command"})

    try:
        return made_by(read_record(side)["recipe"]) == made_by(recipe)
    except (InputError, KeyError, AttributeError):
        return False


def _write_video(plan: _Plan, out: Path, frames: Iterator[np.ndarray], recipe: Recipe, overwrite: bool) -> Path:
    data = recipe.to_json(out)
    if _finished(out, data):
        return out
    check_output(out, inputs=[plan.src], overwrite=overwrite)
    return write_recorded_video(
        out,
        frames,
        plan.info.fps,
        recipe,
        settings=plan.encode,
        audio_from=plan.src if plan.info.audio else None,
        overwrite=True,  # checked above: an existing output here is one the user allowed to replace
        inputs=[plan.src],
    )


def _write_control(plan: _Plan, folder: Path, overwrite: bool) -> Path:
    condition = Condition()
    recipe = Recipe("stimulus", plan.recorded(condition, {}), [plan.src], device="cpu", precision="none")
    return _write_video(plan, folder / "control.mp4", plan.control(), recipe, overwrite)


def _write_level(
    plan: _Plan,
    folder: Path,
    level: str,
    changes: Mapping[str, Any],
    steps_next: int | None,
    overwrite: bool,
    quiet: bool,
) -> list[Path]:
    from .checkpoint import open_job
    from .engine import build_dreamer
    from .video import fill_job, job_frame, sphere_dream_frame

    engine = level_engine(level, changes)
    video = level_video(level, engine, steps_next)
    dreamer = build_dreamer(engine)
    resolved = engine.resolved(dreamer)
    n, k = plan.info.frames, plan.loop_frames
    what = (resolved, video, plan.sphere, plan.size, k)
    job = open_job(plan.src, folder / f"{level}.mp4", what, n + k)
    todo = []
    for condition in (c for c in conditions(plan.settings) if c.level == level):
        extra = {"engine": resolved, "video": video}
        recipe = dream_recipe("stimulus", plan.recorded(condition, extra), [plan.src], engine, dreamer)
        todo.append((condition, folder / f"{condition.name}.mp4", recipe))
    pending = [t for t in todo if not _finished(t[1], t[2].to_json(t[1]))]
    if pending:
        dream_frame = sphere_dream_frame(dreamer, plan.sphere)
        fill_job(job, plan.raws_from, dream_frame, video, source=plan.src, device=dreamer.device, quiet=quiet)
    for condition, out, recipe in pending:
        weights = strength_weights(condition, n, plan.settings.hold, plan.settings.loop)
        frames = (
            mix(control, level_dream(functools.partial(job_frame, job, video), i, n, k), float(weights[i]))
            for i, control in enumerate(plan.control())
        )
        _write_video(plan, out, frames, recipe, overwrite)
    job.remove()
    return [out for _, out, _ in todo]


def sheet_frames(frames: int, count: int = 4) -> list[int]:
    """``count`` frame indices spread evenly from the first frame to the last."""
    return sorted({round(x) for x in np.linspace(0, frames - 1, min(count, frames))})


def _write_sheet(plan: _Plan, videos: Sequence[Path], out: Path, overwrite: bool) -> Path:
    """The contact sheet: the same frames of every condition, decoded from the files (what a headset shows)."""
    from .sheet import contact_sheet, save_sheet
    from .videoio import iter_rgb24

    picks = sheet_frames(plan.info.frames)
    recipe = Recipe("sheet", {"frames": picks}, videos, device="cpu", precision="none")
    data = recipe.to_json(out)
    if _finished(out, data):
        return out
    check_output(out, inputs=videos, overwrite=overwrite)
    tiles = []
    for video in videos:
        decoded = dict(enumerate(itertools.islice(iter_rgb24(video), picks[-1] + 1)))
        tiles += [(f"{video.stem} · frame {i}", decoded[i]) for i in picks]
    save_sheet(contact_sheet(tiles, columns=len(picks), width=min(320, plan.size[1])), out)
    write_record(out, data)
    return out


def remake_stimulus_frames(
    recipe: Mapping[str, Any], source: Path, frames: Sequence[int], device: str
) -> dict[int, np.ndarray]:
    """Frames ``frames`` of a set's video re-made on ``device`` from its recipe (``source``: the clip)."""
    from .engine import EngineOptions, build_dreamer
    from .record import from_json
    from .sphere import SphereOptions
    from .video import VideoSettings, remade_frames, sphere_dream_frame
    from .videoio import EncodeSettings, probe

    s = recipe["settings"]
    condition = from_json(Condition, s["condition"])
    stimuli = StimulusSettings(hold=s.get("hold", StimulusSettings.hold), loop=s["loop"])
    n, k = int(s["frames"]), int(s["loop_frames"])
    plan = _Plan(
        source,
        dataclasses.replace(probe(source), frames=n),
        tuple(s["size"]),  # (height, width), as recorded
        k,
        stimuli,
        from_json(SphereOptions, s["sphere"]),
        from_json(EncodeSettings, s["encode"]),
    )
    wanted = set(frames)
    controls = {i: f for i, f in enumerate(plan.control()) if i in wanted}
    if condition.level is None:
        return {i: to_uint8(controls[i]) for i in frames}
    engine = from_json(EngineOptions, s["engine"])
    dreamer = build_dreamer(dataclasses.replace(engine, settings=engine.settings.replace(device=device)))
    needed = wanted | {n + i for i in wanted if i < k}  # the loop's first frames need its second pass
    stored = remade_frames(
        plan.raws_from,
        sphere_dream_frame(dreamer, plan.sphere),
        from_json(VideoSettings, s["video"]),
        n + k,
        needed,
        device=dreamer.device,
    )
    weights = strength_weights(condition, n, stimuli.hold, stimuli.loop)
    return {i: mix(controls[i], level_dream(stored.__getitem__, i, n, k), float(weights[i])) for i in frames}
