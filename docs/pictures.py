"""Draw the pictures the documentation shows, from real runs with each recipe's defaults.

    python docs/pictures.py            # every run below (about 4 minutes on 2 cores)
    python docs/pictures.py vae gan    # some of them

Each run is an ordinary ``gentk run NAME`` (its default data and options, plus the overrides
listed) into a temporary directory; the pictures it writes are copied to
``docs/images/NAME-PICTURE.png``. Nothing here is drawn by hand: what the pages show is what a
user's run draws.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

IMAGES = Path(__file__).resolve().parent / "images"

#: run name -> (recipe, overrides, pictures copied)
RUNS = {
    "vae": ("vae", [], ["samples", "reconstructions", "latent", "training_curves"]),
    "cvae": ("cvae", [], ["samples"]),
    "vq-vae": ("vq-vae", [], ["samples", "codebook_usage"]),
    "gan": ("gan", [], ["samples", "training_curves"]),
    "dcgan": ("dcgan", [], ["samples"]),
    "nsf": ("nsf", [], ["density"]),
    "maf-rings": ("maf", ["--data", "rings"], ["density"]),
    "realnvp-digits": ("realnvp", ["--data", "digits"], ["samples"]),
    "recommender-vae": ("recommender-vae", [], ["training_curves"]),
}


def draw(name: str) -> list[Path]:
    recipe, extra, pictures = RUNS[name]
    gentk = Path(sys.executable).with_name("gentk")
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp) / name
        subprocess.run([str(gentk), "run", recipe, "-q", "-o", str(run_dir), *extra], check=True)
        written = []
        for picture in pictures:
            target = IMAGES / f"{name}-{picture}.png"
            shutil.copyfile(run_dir / f"{picture}.png", target)
            written.append(target)
        return written


def main(names: list[str]) -> None:
    unknown = sorted(set(names) - set(RUNS))
    if unknown:
        raise SystemExit(f"unknown run(s) {', '.join(unknown)}; choose from {', '.join(RUNS)}")
    IMAGES.mkdir(exist_ok=True)
    for name in names or list(RUNS):
        for path in draw(name):
            print(path.relative_to(IMAGES.parent.parent))


if __name__ == "__main__":
    main(sys.argv[1:])
