"""Many files in one command: a batch of photospheres and 360° videos, in this process or on Ray workers.

This is the Python API behind ``vrdream batch``. Each input is one job: a still is dreamed as
``vrdream dream`` does it (:func:`vrdream.pipeline.dream_file`), a video as ``vrdream video``
(:func:`vrdream.video.video_file`), with the same settings for all. A job that fails (a bad or
unreadable file) is recorded with its one-line error and the batch goes on.

The manifest ``OUTDIR/vrdream-batch.json`` lists every job (input, output, settings, status,
seconds, error) and is rewritten atomically as each job ends. Running the same batch again
skips a job whose output exists and whose record says it was finished with the same settings
from the same input (size and modification time); any other job runs, and resumes from its
own checkpoints (:mod:`vrdream.checkpoint`) where an earlier run stopped.

Workers: with ``workers`` > 1 or a ``ray_address`` the jobs run on Ray actors (:mod:`vrdream.workers`),
each holding its built engine for all its jobs (models load once per worker, not once per
file). Ray is an optional dependency (``pip install 'vrdream[ray]'``) imported only then, so a
single-process batch is the same code path as before, without Ray. On a cluster the inputs
and OUTDIR must be on a path every node sees under the same name (NFS, a shared disk).
"""

from __future__ import annotations

import dataclasses
import glob
import json
import os
import socket
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from typing import Any, Literal

from tqdm import tqdm

from .atomic import atomic_path
from .checkpoint import Interrupted
from .dream import Dreamer
from .engine import build_dreamer
from .errors import InputError, VrdreamError
from .photosphere import WRITE_FORMATS
from .pipeline import DreamRequest, dream_file
from .progress import progress
from .video import VideoSettings, video_file
from .videoio import CONTAINERS, EncodeSettings
from .workers import actor_count, ray_session, run_on_actors, wants_ray

#: The manifest's name in the output folder.
MANIFEST = "vrdream-batch.json"
#: Suffixes taken from a folder as stills / as videos (a file named on its own is tried whatever its suffix).
STILL_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff")
VIDEO_SUFFIXES = (".mp4", ".mov", ".m4v", ".mkv", ".webm", ".avi")

Kind = Literal["still", "video"]
Status = Literal["pending", "done", "failed"]


@dataclass(frozen=True)
class BatchRequest:
    """What every job of a batch is asked: stills as ``vrdream dream``, videos as ``vrdream video``.

    Videos take the engine and the dream width of ``dream`` (``dream.engine``, ``dream.sphere``).
    """

    #: The dream of a still (and the engine and cube canvas of a video).
    dream: DreamRequest = DreamRequest()
    #: Temporal coherence of a video (None: what the preset implies, :func:`vrdream.presets.video_settings`).
    video: VideoSettings | None = None
    #: How a video is encoded.
    encode: EncodeSettings = EncodeSettings()

    def video_settings(self) -> VideoSettings:
        from .presets import video_settings

        return self.video or video_settings(self.dream.engine.preset, self.dream.engine.settings)

    def settings_for(self, kind: Kind) -> str:
        """What determines a ``kind`` job's output, as text (compared to decide whether a job is done)."""
        d = self.dream
        if kind == "still":
            return repr(d)
        return repr((d.engine, d.sphere, self.video_settings(), self.encode))


@dataclass(frozen=True)
class BatchJob:
    """One input of a batch and what became of it: a row of the manifest."""

    #: The input file, absolute.
    input: str
    #: The output file, absolute ("" for an input that names no file, e.g. a glob that matched none).
    output: str
    kind: Kind
    #: :meth:`BatchRequest.settings_for` and the input's size and modification time.
    settings: str
    status: Status = "pending"
    #: How long the job took, in seconds (None until it ends).
    seconds: float | None = None
    #: The one-line error of a failed job.
    error: str | None = None
    #: When the job ended (UTC, ISO 8601).
    finished: str | None = None

    @property
    def key(self) -> str:
        """The row's key in the manifest: its output (its input when it has none)."""
        return self.output or self.input

    def done_as(self, old: BatchJob | None) -> bool:
        """Whether ``old`` (the manifest's row for this output) finished this very job, its output still there."""
        return (
            old is not None
            and old.status == "done"
            and (old.input, old.settings) == (self.input, self.settings)
            and Path(self.output).is_file()
        )

    def ended(self, started: float, error: str | None = None) -> BatchJob:
        return dataclasses.replace(
            self,
            status="failed" if error else "done",
            seconds=round(time.monotonic() - started, 3),
            error=error,
            finished=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        )


def expand_inputs(inputs: Iterable[str | Path]) -> list[tuple[Path, str | None]]:
    """Every input file named by ``inputs`` (files, folders, globs), once each, in order, with an error for
    an input that names none: (path, None) or (path, problem)."""
    found: list[tuple[Path, str | None]] = []
    for item in map(str, inputs):
        p = Path(item)
        if p.is_dir():
            suffixes = STILL_SUFFIXES + VIDEO_SUFFIXES
            found += [
                (f, None)
                for f in sorted(p.iterdir())
                if f.is_file() and not f.name.startswith(".") and f.suffix.lower() in suffixes
            ]
        elif p.exists() or not glob.has_magic(item):
            found.append((p, None))  # a missing file fails its own job, with the reader's words
        else:
            matches = sorted(glob.glob(item))
            found += [(Path(m), None) for m in matches] or [(p, "matches no files")]
    seen: set[Path] = set()
    unique = []
    for path, problem in found:
        key = path.absolute().resolve()
        if key not in seen:
            seen.add(key)
            unique.append((key if path.exists() else path.absolute(), problem))
    return unique


def kind_of(path: Path) -> Kind:
    return "video" if path.suffix.lower() in VIDEO_SUFFIXES else "still"


def output_names(paths: Sequence[Path]) -> list[Path]:
    """The output path of each input, relative to the output folder.

    The rule: the input's file name, with ``.png`` (stills) or ``.mp4`` (videos) appended when vrdream does
    not write its suffix (``pano.tif`` → ``pano.tif.png``). Inputs whose names clash (the same name from
    different folders) each keep their folders below the deepest folder they share
    (``trip/a/x.jpg``, ``trip/b/x.jpg`` → ``a/x.jpg``, ``b/x.jpg``); other names are left as they are.
    """
    names = [Path(_output_name(p)) for p in paths]
    clashes = Counter(n.name.lower() for n in names)
    out = []
    for p, n in zip(paths, names):
        if clashes[n.name.lower()] > 1:
            shared = os.path.commonpath(
                [str(q.parent) for q, m in zip(paths, names) if m.name.lower() == n.name.lower()]
            )
            n = p.parent.relative_to(shared) / n
        out.append(n)
    return out


def _output_name(path: Path) -> str:
    writable = CONTAINERS if kind_of(path) == "video" else tuple(WRITE_FORMATS)
    if path.suffix.lower() in writable:
        return path.name
    return path.name + (".mp4" if kind_of(path) == "video" else ".png")


def plan_jobs(inputs: Iterable[str | Path], outdir: str | Path, request: BatchRequest) -> list[BatchJob]:
    """The batch's jobs, pending (a glob that matched nothing is a failed job)."""
    found = expand_inputs(inputs)
    out = Path(outdir).absolute()
    jobs = []
    for (path, problem), name in zip(found, output_names([p for p, _ in found])):
        kind = kind_of(path)
        job = BatchJob(str(path), str(out / name) if problem is None else "", kind, _settings(path, request, kind))
        jobs.append(dataclasses.replace(job, status="failed", error=f"{path}: {problem}") if problem else job)
    return jobs


def _settings(path: Path, request: BatchRequest, kind: Kind) -> str:
    try:
        st = path.stat()
    except OSError:
        return request.settings_for(kind)  # the job will fail; nothing to compare
    return f"{request.settings_for(kind)} input size={st.st_size} mtime_ns={st.st_mtime_ns}"


def read_manifest(outdir: str | Path) -> dict[str, BatchJob]:
    """The rows of ``OUTDIR/vrdream-batch.json`` by output path (none when it is missing or unreadable)."""
    path = Path(outdir) / MANIFEST
    try:
        rows = json.loads(path.read_text())["jobs"]
        return {row.key: row for row in (BatchJob(**r) for r in rows)}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def write_manifest(outdir: str | Path, rows: Iterable[BatchJob]) -> Path:
    path = Path(outdir) / MANIFEST
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps({"jobs": [dataclasses.asdict(r) for r in rows]}, indent=1) + "\n")
    return path


class Engines:
    """The dream engine a worker builds once, on its first job, and reuses for every later one."""

    def __init__(self, request: BatchRequest) -> None:
        self.request = request
        self._dreamer: Dreamer | None = None

    def get(self) -> Dreamer:
        if self._dreamer is None:
            self._dreamer = build_dreamer(self.request.dream.engine)
        return self._dreamer


def run_job(
    job: BatchJob,
    engines: Engines,
    *,
    overwrite: bool = False,
    on_frame: Callable[[], None] | None = None,
    node: str | None = None,
) -> BatchJob:
    """Do ``job``; returns its row, failed with the one-line error of a :class:`VrdreamError` (or an unreadable
    file). ``node``: the machine's name when it is a worker that may not see the driver's files."""
    started = time.monotonic()
    try:
        _check_readable(Path(job.input), node)
        request = engines.request
        d = request.dream
        if job.kind == "video":
            _refuse_still_options(job.input, d)
        dreamer = engines.get()
        started = time.monotonic()  # a job's seconds are its own, not those of the engine its worker built first
        if job.kind == "video":
            video_file(
                job.input,
                job.output,
                d.engine,
                request.video_settings(),
                sphere=d.sphere,
                encode=request.encode,
                overwrite=overwrite,
                quiet=True,
                dreamer=dreamer,
                on_frame=on_frame,
            )
        else:
            dream_file(job.input, job.output, request.dream, overwrite=overwrite, quiet=True, dreamer=dreamer)
    except Interrupted:
        raise
    except (VrdreamError, OSError) as exc:
        return job.ended(started, str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
    return job.ended(started)


def _refuse_still_options(path: str, request: DreamRequest) -> None:
    """A flag that cannot apply to a video fails a video's job (it still applies to the batch's stills)."""
    still_only = {
        "--flat": request.read.flat,
        "--fov": request.read.fov_deg is not None,
        "--upscale": request.output.upscale.factor > 1,
    }
    given = [flag for flag, on in still_only.items() if on]
    if given:
        raise InputError(path, f"{', '.join(given)}: options for stills, not for a video")


def _check_readable(path: Path, node: str | None) -> None:
    if node is None or os.access(path, os.R_OK):
        return  # on this machine the reader says what is wrong in its own words
    raise InputError(path, f"cannot be read on worker {node}: inputs and outputs must be on a path every node shares")


@dataclass(frozen=True)
class BatchResult:
    """What a batch did: every job's row (as in the manifest), and the manifest's path."""

    jobs: tuple[BatchJob, ...]
    manifest: Path
    #: The outputs this call wrote (not those an earlier run had finished).
    written: tuple[str, ...]

    @property
    def failed(self) -> list[BatchJob]:
        return [j for j in self.jobs if j.status == "failed"]


def batch_files(
    inputs: Iterable[str | Path],
    outdir: str | Path,
    request: BatchRequest = BatchRequest(),
    *,
    workers: int = 1,
    ray_address: str | None = None,
    overwrite: bool = False,
    quiet: bool = False,
) -> BatchResult:
    """``vrdream batch``: dream every still and video named by ``inputs`` (files, folders, globs) into ``outdir``.

    Failed jobs are in the result (and the manifest) with their errors, each said on stderr as it happens;
    they never stop the batch. ``workers`` > 1 runs the jobs on a local Ray started for this call;
    ``ray_address`` (``auto`` or ``HOST:PORT``) joins a running cluster instead, with ``workers`` actors
    (1: one per GPU of the cluster, else one per CPU). A Ray already initialised in this process is used as
    it is and left running. ``overwrite``: a job may replace an output that no finished job of the manifest
    made with the same settings (one that did is skipped either way).

    >>> batch_files(["trip/"], "dreams/", workers=2)  # doctest: +SKIP
    """
    on_ray = wants_ray(workers, ray_address)
    out = Path(outdir)
    if out.exists() and not out.is_dir():
        raise VrdreamError(f"{out}: not a folder; batch writes its outputs into a folder")
    jobs = plan_jobs(inputs, out, request)
    if not jobs:
        raise VrdreamError("no inputs: name files, folders or globs")
    old = read_manifest(out)
    rows = {j.key: (old[j.key] if j.done_as(old.get(j.key)) else j) for j in jobs}
    kept = [r for k, r in old.items() if k not in rows]  # rows of earlier batches into the same folder
    todo = [r for r in rows.values() if r.status == "pending"]
    for r in rows.values():
        if r.status == "failed":
            _say_failed(r)
    out.mkdir(parents=True, exist_ok=True)
    write_manifest(out, [*rows.values(), *kept])
    with progress(None, "batch", quiet, unit="frame") as bar:
        counter = _Counter(bar, todo)

        def ended(row: BatchJob) -> None:
            rows[row.key] = row
            write_manifest(out, [*rows.values(), *kept])
            counter.ended(row)
            if row.status == "failed":
                _say_failed(row)

        if not on_ray:
            engines = Engines(request)
            for job in todo:
                ended(run_job(job, engines, overwrite=overwrite, on_frame=partial(counter.advance, job.output, 1)))
        elif todo:
            _run_on_ray(todo, request, workers, ray_address, overwrite, ended, counter)
    finished = [rows[j.key] for j in todo]
    return BatchResult(tuple(rows.values()), out / MANIFEST, tuple(r.output for r in finished if r.status == "done"))


def _say_failed(row: BatchJob) -> None:
    tqdm.write(f"vrdream: error: {row.error}", file=sys.stderr)


class _Counter:
    """The batch's one bar: frames as they are dreamed (a still counts as one frame), and jobs as they end."""

    def __init__(self, bar: tqdm, todo: Sequence[BatchJob]) -> None:
        self.bar = bar
        self.units = {j.output: _frames(j) for j in todo}
        self.given: Counter[str] = Counter()
        self.jobs = 0
        bar.reset(total=sum(self.units.values()))
        bar.set_postfix_str(f"jobs 0/{len(todo)}")

    def advance(self, output: str, n: int) -> None:
        n = min(n, self.units[output] - self.given[output])
        self.given[output] += n
        self.bar.update(n)

    def ended(self, job: BatchJob) -> None:
        self.advance(job.output, self.units[job.output])  # a still, or what a failed video left
        self.jobs += 1
        self.bar.set_postfix_str(f"jobs {self.jobs}/{len(self.units)}")


def _frames(job: BatchJob) -> int:
    """A job's share of the progress bar: one for a still, its frame count for a video."""
    if job.kind == "still":
        return 1
    from .videoio import probe

    try:
        return max(1, probe(job.input).frames)
    except (VrdreamError, OSError):
        return 1  # the job will fail and say why


# ---------------------------------------------------------------------------- on Ray


class RayWorker:
    """A Ray actor: one worker, its engine built on its first job and kept for the others."""

    def __init__(self, request: BatchRequest, frames: Any) -> None:
        self.engines = Engines(request)
        self.frames = frames  # a ray.util.queue.Queue: (output) per dreamed frame, for the driver's bar
        self.node = socket.gethostname()

    def run(self, job: BatchJob, overwrite: bool) -> BatchJob:
        return run_job(
            job, self.engines, overwrite=overwrite, on_frame=lambda: self.frames.put(job.output), node=self.node
        )


def _run_on_ray(
    todo: Sequence[BatchJob],
    request: BatchRequest,
    workers: int,
    address: str | None,
    overwrite: bool,
    ended: Callable[[BatchJob], None],
    counter: _Counter,
) -> None:
    """Run ``todo`` on Ray workers (:mod:`vrdream.workers`); ``ended`` is told each job's row."""
    import torch

    with ray_session(workers, address) as ray:
        from ray.util.queue import Queue

        frames = Queue(actor_options={"num_cpus": 0})

        def poll() -> None:
            for output in frames.get_nowait_batch(frames.qsize()):
                counter.advance(output, 1)

        def done(job: BatchJob, row: BatchJob | None, error: str | None, started: float) -> None:
            ended(row if row is not None else job.ended(started, f"{job.input}: worker failed: {error}"))

        run_on_actors(
            ray,
            RayWorker,
            (request, frames),
            todo,
            lambda actor, job: actor.run.remote(job, overwrite),
            done,
            actors=actor_count(ray, workers, len(todo)),
            threads=torch.get_num_threads(),
            poll=poll,
        )
