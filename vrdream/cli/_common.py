"""Options shared by several sub-commands."""

from __future__ import annotations

import argparse
import dataclasses
from fractions import Fraction
from typing import TYPE_CHECKING, Any, get_args

from ..presets import DEFAULT_PRESET, PRESETS
from ..settings import MAX_PIXELS, PRECISIONS, SEGMENT_FRAMES, EncodeSettings, Normalize

if TYPE_CHECKING:
    from ..engine import EngineOptions
    from ..fileinfo import ReadOptions
    from ..settings import DreamSettings
    from ..superres import UpscaleOptions
    from ..video import VideoSettings


def add_output_options(p: argparse.ArgumentParser) -> None:
    """``-o OUT``, ``--overwrite`` and ``--quiet``: every command that writes files takes these."""
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="output path (written atomically)")
    p.add_argument("--overwrite", action="store_true", help="replace OUTPUT if it exists (never an input)")
    add_quiet(p)


def say_wrote(args: argparse.Namespace, *paths: object) -> None:
    """Every command ends by naming what it wrote, one ``wrote PATH`` line each (nothing with ``--quiet``)."""
    if not args.quiet:
        print("\n".join(f"wrote {p}" for p in paths))


def add_quiet(p: argparse.ArgumentParser) -> None:
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars or chatter")


#: The dream flags that choose what is dreamed (network, layer, guide): ``vrdream stimuli``'s levels set them.
LEVEL_FLAGS = ("preset", "backbone", "weights", "objective", "guide")


def add_dream_options(
    p: argparse.ArgumentParser, *, levels: bool = False, scaled: bool = True, scale_note: str = ""
) -> None:
    """The engine's settings as flags; each left out keeps the preset's value (its default says which).

    ``levels``: the command's levels choose the presets (``vrdream stimuli``), so :data:`LEVEL_FLAGS` are left out.
    ``scaled``: the command dreams stills at their patterns' scale on the sphere
    (:func:`vrdream.sphere.dream_sphere_scaled`), so it takes ``--pattern-deg`` and ``--detail-steps``; the
    others dream at one width (``--dream-width``): there those flags are hidden and refused, not ignored.
    ``scale_note``: added to those flags' help where they apply to some of a command's inputs only.
    """
    d = PRESETS[DEFAULT_PRESET].settings

    def preset_default(value: object) -> str:
        return f"(default: the preset's; {DEFAULT_PRESET}: {value if value != '' else 'the backbone default'})"

    g = p.add_argument_group("dream")
    if not levels:
        g.add_argument(
            "--preset",
            default=DEFAULT_PRESET,
            choices=list(PRESETS),
            metavar="NAME",
            help=f"named settings: {', '.join(PRESETS)} (default {DEFAULT_PRESET}; see `vrdream models`)",
        )
        g.add_argument("--backbone", metavar="NET", help=f"network, see `vrdream models` {preset_default(d.backbone)}")
        g.add_argument(
            "--weights",
            metavar="FILE",
            help="state-dict file for backbones whose weights are not bundled (googlenet, vgg16; "
            "default: torchvision's download)",
        )
        g.add_argument(
            "--objective",
            "--layer",
            dest="objective",
            metavar="OBJ",
            help="what to amplify: LAYER, LAYER[ch,...], L1*0.5+L2, class:NAME, guide:LAYER "
            + preset_default(d.objective),
        )
        g.add_argument("--guide", metavar="FILE", help="guide image for a guide:LAYER objective (default: none)")
    g.add_argument("--octaves", type=int, metavar="N", help=f"number of octaves {preset_default(d.octaves)}")
    g.add_argument(
        "--octave-scale", type=float, metavar="X", help=f"size ratio between octaves {preset_default(d.octave_scale)}"
    )
    g.add_argument("--steps", type=int, metavar="N", help=f"gradient steps per octave {preset_default(d.steps)}")
    # Where they cannot apply they are taken but hidden, for a one-line reason (refuse_ignored_scale) instead
    # of argparse's "unrecognized arguments" to someone who learnt them from `vrdream dream`.
    g.add_argument(
        "--pattern-deg",
        type=float,
        metavar="DEG",
        help=(
            "pattern size on the sphere, degrees: the same dream at any resolution "
            + scale_note
            + preset_default(d.pattern_deg)
        )
        if scaled
        else argparse.SUPPRESS,
    )
    g.add_argument(
        "--detail-steps",
        type=int,
        metavar="N",
        help=(
            "steps of each finer octave up to the input's full size, 0: none "
            + scale_note
            + preset_default(d.detail_steps)
        )
        if scaled
        else argparse.SUPPRESS,
    )
    p.set_defaults(one_width=not scaled)
    g.add_argument(
        "--step-size",
        type=float,
        metavar="X",
        help=f"change per step, intensity units of the normalised gradient {preset_default(d.step_size)}",
    )
    g.add_argument(
        "--normalize",
        choices=get_args(Normalize),
        metavar="MODE",
        help=f"gradient normalisation: mean or laplacian {preset_default(d.normalize)}",
    )
    g.add_argument(
        "--jitter", type=int, metavar="PX", help=f"jitter in pixels at the finest octave {preset_default(d.jitter)}"
    )
    g.add_argument(
        "--seed",
        type=int,
        metavar="N",
        help=f"random seed: the same seed gives the same dream on the CPU {preset_default(d.seed)}",
    )
    g.add_argument(
        "--precision",
        choices=PRECISIONS,
        metavar="P",
        help="network precision: auto (bf16 where it is fast: a GPU; for super-resolution also a CPU with "
        "native bf16), fp32, bf16, fp16; the bundled backbones keep their first layers in fp32 "
        + preset_default(d.precision),
    )
    g.add_argument("--device", metavar="DEV", help=f"auto, cpu, cuda, cuda:N {preset_default(d.device)}")
    g.add_argument("--threads", type=int, metavar="N", help="CPU threads for torch (default: all cores)")
    g.add_argument("--tile", type=int, metavar="PX", help="network input tile side (default: from free memory)")


def add_dream_width(g: argparse.ArgumentParser | argparse._ArgumentGroup, default: str = "the input's") -> None:
    """``--dream-width W``: the equirect width a sphere dream runs at (every command that dreams a sphere)."""
    g.add_argument(
        "--dream-width", type=int, metavar="W", help=f"equirect width the dream runs at (default: {default})"
    )


def add_steps_next(g: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """``--steps-next N``: the short dream on each video frame after the first (``vrdream.video.VideoSettings``)."""
    g.add_argument(
        "--steps-next",
        type=int,
        metavar="N",
        help="dream steps on each frame after the first (default 4; 16 with --preset hallucination-machine)",
    )


def settings_from_args(args: argparse.Namespace) -> DreamSettings:
    """The preset's settings with every flag that was given applied on top."""
    from ..presets import get_preset

    return get_preset(args.preset).settings.replace(**dream_changes(args))


def dream_changes(args: argparse.Namespace) -> dict[str, Any]:
    """The :class:`~vrdream.dream.DreamSettings` fields :func:`add_dream_options`' flags set (None: not given);
    ``--threads``, which is no setting, is applied to torch here; a pattern scale that would go unused is
    refused here (:func:`refuse_ignored_scale`), before any work, for every command that dreams."""
    import torch

    from ..settings import DreamSettings

    refuse_ignored_scale(args)
    if args.threads:
        torch.set_num_threads(args.threads)
    names = {f.name for f in dataclasses.fields(DreamSettings)}
    return {k: v for k, v in vars(args).items() if k in names and v is not None and k != "preset"}


def engine_from_args(args: argparse.Namespace) -> EngineOptions:
    """The dream engine's options from :func:`add_dream_options`' flags: every command that dreams uses this."""
    from ..engine import EngineOptions

    return EngineOptions(settings_from_args(args), preset=args.preset, weights=args.weights, guide=args.guide)


def refuse_ignored_scale(args: argparse.Namespace) -> None:
    """``--pattern-deg`` and ``--detail-steps`` size a still's dream by its patterns on the sphere
    (:func:`vrdream.pipeline.dream_photosphere`); a command that dreams every frame at one width, a size
    given another way, a flat picture or a dream made for super-resolution would leave them unused, so the
    pair is refused (one line, exit 2), not ignored."""
    from ..errors import VrdreamError

    scale = [f for f in ("--pattern-deg", "--detail-steps") if getattr(args, f[2:].replace("-", "_"), None) is not None]
    others = {
        f"vrdream {getattr(args, 'command', '')}": (
            getattr(args, "one_width", False),
            "dreams every frame at one width (--dream-width)",
        ),
        "--dream-width": (getattr(args, "dream_width", None), "sets the dream's width itself"),
        "--face-size": (getattr(args, "face_size", None), "sets the dream's face size itself"),
        "--upscale": (getattr(args, "upscale", 1) > 1, "dreams at the input's width for super-resolution"),
        "--flat": (getattr(args, "flat", False), "dreams a flat picture, not a sphere"),
    }
    given = [(flag, why) for flag, (on, why) in others.items() if on]
    if scale and given:
        (flag, why), first = given[0], scale[0]
        raise VrdreamError(f"{first} is for a still dreamed at its pattern size on the sphere; {flag} {why}")


def number_pair(text: str) -> tuple[float, float]:
    """``"A,B"`` → (a, b): YAW,PITCH and H,V options (degrees), for argparse."""
    try:
        a, b = (float(x) for x in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not two numbers in degrees separated by a comma, e.g. 30,-10"
        ) from None
    return a, b


def command(
    sub: argparse._SubParsersAction, name: str, doc: str, help: str, *, runs_network: bool = False, **kw: Any
) -> argparse.ArgumentParser:
    """A sub-command's parser, described by the first line of its module's docstring.

    ``runs_network``: the command runs a neural network, so ``vrdream`` re-runs itself under a faster
    allocator for it (:func:`vrdream.cli.fast_allocator_env`); other commands start at once.
    """
    p = sub.add_parser(name, help=help, description=doc.splitlines()[0].replace("``", ""), **kw)
    p.set_defaults(runs_network=runs_network)
    return p


def add_fov(p: argparse.ArgumentParser) -> None:
    """``--fov H,V``: where an untagged, non-2:1 picture sits on the sphere (every command that reads one)."""
    p.add_argument(
        "--fov",
        type=number_pair,
        metavar="H,V",
        help="field of view in degrees of an image without Photo Sphere metadata that is not 2:1; "
        "placed as a partial panorama centred at yaw 0, pitch 0 (default: such images are refused)",
    )


def add_input_options(p: argparse.ArgumentParser) -> None:
    """``--fov H,V``, ``--flat`` and ``--max-pixels N``: how to read an input panorama."""
    add_fov(p)
    p.add_argument("--flat", action="store_true", help="an ordinary picture, not a panorama")
    add_max_pixels(p)


def add_max_pixels(p: argparse.ArgumentParser, images: str = "images") -> None:
    """``--max-pixels N``: the size past which ``images`` (how the command counts them) are refused."""
    p.add_argument(
        "--max-pixels",
        type=int,
        default=MAX_PIXELS,
        metavar="N",
        help=f"refuse {images} of more than N pixels (default {MAX_PIXELS})",
    )


def read_options(args: argparse.Namespace) -> ReadOptions:
    """The :class:`vrdream.fileinfo.ReadOptions` from :func:`add_input_options`' flags."""
    from ..fileinfo import ReadOptions

    return ReadOptions(flat=args.flat, fov_deg=args.fov, max_pixels=args.max_pixels)


def parse_fps(text: str) -> Fraction:
    """``30``, ``29.97`` or ``30000/1001`` → an exact Fraction, for argparse."""
    try:
        fps = Fraction(text).limit_denominator(1001)
    except (ValueError, ZeroDivisionError):
        raise argparse.ArgumentTypeError(f"{text!r} is not a frame rate (e.g. 30, 29.97 or 30000/1001)") from None
    if fps <= 0:
        raise argparse.ArgumentTypeError(f"frame rate must be positive, not {text}")
    return fps


def add_encode_options(p: argparse.ArgumentParser) -> None:
    """``--codec``, ``--crf``, ``--preset``: how the video track is encoded (shared by the video commands)."""
    d = EncodeSettings()
    p.add_argument(
        "--codec",
        default=d.codec,
        metavar="ENC",
        help=f"FFmpeg video encoder (default {d.codec}; e.g. libx265, libvpx-vp9, mpeg4)",
    )
    p.add_argument(
        "--crf", type=int, default=d.crf, metavar="N", help=f"constant rate factor, lower is better (default {d.crf})"
    )
    p.add_argument(
        "--encoder-preset", default=d.preset, metavar="NAME", help=f"x264/x265 speed preset (default {d.preset})"
    )
    p.add_argument(
        "--pix-fmt", default=d.pix_fmt, metavar="FMT", help=f"pixel format (default {d.pix_fmt}, what players expect)"
    )


def encode_settings(args: argparse.Namespace) -> EncodeSettings:
    """The :class:`vrdream.settings.EncodeSettings` from :func:`add_encode_options`' flags."""
    return EncodeSettings(codec=args.codec, pix_fmt=args.pix_fmt, crf=args.crf, preset=args.encoder_preset)


def add_upscale_options(p: argparse.ArgumentParser, *, default: int) -> argparse._ArgumentGroup:
    """``--upscale N``, ``--sr MODEL``, ``--sr-weights FILE``: super-resolution, the same flags wherever it runs."""
    g = p.add_argument_group("super-resolution")
    g.add_argument(
        "--upscale",
        type=int,
        choices=[1, 2, 3, 4],
        default=default,
        metavar="N",
        help=f"super-resolution factor 1-4 (default {default}{': none' if default == 1 else ''})",
    )
    g.add_argument("--scale", dest="upscale", type=int, choices=[1, 2, 3, 4], help=argparse.SUPPRESS)  # old name
    g.add_argument(
        "--sr",
        default="auto",
        metavar="MODEL",
        help="super-resolution model: auto (picks by device) or one of `vrdream models` (default auto)",
    )
    g.add_argument(
        "--sr-weights",
        metavar="FILE",
        help="weights for MODEL: an ncnn .param (its .bin beside it) or a PyTorch state dict "
        "(default: the bundled ones)",
    )
    return g


def upscale_from_args(args: argparse.Namespace) -> UpscaleOptions:
    """The :class:`vrdream.superres.UpscaleOptions` from :func:`add_upscale_options`' flags (and, where the
    command has them, ``--precision``, ``--tile`` and ``--memory-budget``)."""
    from ..superres import UpscaleOptions

    extra: dict[str, Any] = {
        "precision": getattr(args, "sr_precision", None) or "auto",
        "tile": getattr(args, "sr_tile", None),
        "memory_budget_gb": getattr(args, "memory_budget", None),
    }
    return UpscaleOptions(args.upscale, args.sr, args.sr_weights, **extra)


def add_temporal_options(g: argparse._ArgumentGroup) -> None:
    """``--steps-next N``, ``--independent`` and ``--segment-frames N``: how a video's frames follow each other
    (every command that dreams videos)."""
    add_steps_next(g)
    g.add_argument("--independent", action="store_true", help="dream every frame on its own (flickers; for comparison)")
    g.add_argument(
        "--segment-frames",
        type=int,
        metavar="N",
        help="carry the dream along N frames, then fade in a fresh one; the segments are what workers share "
        f"out, and the video is the same for any number of workers (0: one segment; default {SEGMENT_FRAMES})",
    )


def temporal_from_args(args: argparse.Namespace, engine: EngineOptions) -> VideoSettings:
    """The :class:`vrdream.video.VideoSettings` the preset implies, with :func:`add_temporal_options`' flags."""
    from ..presets import video_settings

    video = video_settings(engine.preset, engine.settings)
    if args.steps_next is not None:
        video = dataclasses.replace(video, steps_next=args.steps_next)
    if args.independent:
        video = dataclasses.replace(video, coherent=False)
    if args.segment_frames is not None:
        video = dataclasses.replace(
            video, segment_frames=args.segment_frames, crossfade_frames=min(video.crossfade_frames, args.segment_frames)
        )
    return video


def add_worker_options(p: argparse.ArgumentParser) -> None:
    """``--workers N`` and ``--ray ADDRESS``: the work on Ray workers (:mod:`vrdream.workers`)."""
    w = p.add_argument_group("workers")
    w.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="N workers on a local Ray (pip install 'vrdream[ray]'): batch runs N jobs at once, video shares its "
        "segments out; "
        "with --ray: N workers on the cluster (default 1: this process, no Ray)",
    )
    w.add_argument(
        "--ray",
        metavar="ADDRESS",
        help="join a running Ray cluster: auto or HOST:PORT; inputs and OUT on a path every node shares "
        "(default: none)",
    )


def add_quality(p: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    p.add_argument("--quality", type=int, default=95, metavar="Q", help="JPEG/WebP quality 1-100 (default 95)")
