"""docs/stimuli.png: the contact sheet of a stimulus set (``vrdream stimuli``), as a researcher checks it.

    python docs/make_stimuli.py [--width 256] [--frames 12]

The clip is tests/videos.py's (samples/mars.jpg turning in yaw, a moving disc, a sine on the audio);
the set is the command's own output, made with fewer dream steps than the presets' to stay quick on a
CPU. The sheet is the set's ``sheet.png``: the same frames of every condition, decoded from the files.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

DOCS = Path(__file__).parent
sys.path.insert(0, str(DOCS.parent / "tests"))
from videos import load_panorama, make_video  # noqa: E402  (the tests' synthetic 360° video)

from vrdream.cli import main as vrdream  # noqa: E402

SAMPLE = DOCS.parent / "vrdream" / "samples" / "mars.jpg"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--width", type=int, default=256)
    ap.add_argument("--frames", type=int, default=12)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        clip = make_video(Path(tmp) / "clip.mp4", load_panorama(SAMPLE, args.width), frames=args.frames)
        folder = Path(tmp) / "set"
        argv = ["stimuli", str(clip), "-o", str(folder), "--levels", "edges,objects", "--strengths", "0.5,1"]
        argv += ["--fade", "--steps", "4", "--octaves", "2", "--steps-next", "2", "--device", "cpu", "-q"]
        if vrdream(argv) != 0:
            raise SystemExit("vrdream stimuli failed")
        shutil.copyfile(folder / "sheet.png", DOCS / "stimuli.png")
    print(f"wrote {DOCS / 'stimuli.png'}")


if __name__ == "__main__":
    main()
