"""XLA on this machine, per recipe: train steps per second with ``jit_compile=true`` and
``false`` on the recipe's default data and options, each in its own process, and the ratio
measured in the same run: what ``jit_compile=auto`` decides from (a recipe sets
``xla_on_cpu = True`` only where XLA came out faster on CPU).

    python benchmarks/xla.py                       # every registered model
    python benchmarks/xla.py vae iwae autoencoder --batches 30
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

from _common import epoch_timer, table


def child(name: str, jit: bool, batches: int, repeats: int) -> None:

    from gentk.config import resolve_config
    from gentk.plugins import get_registry
    from gentk.training.runner import build_compiled_model, seed_everything

    recipe = get_registry().get("model", name).factory
    options = [f"jit_compile={str(jit).lower()}", "distribute=default"]
    config = resolve_config(recipe.config, None, options)
    seed_everything(0)
    data = recipe.load_data(config, None)
    model = build_compiled_model(recipe, config, data)

    timer = epoch_timer()  # the first epoch traces (and compiles); the fastest other is kept
    model.fit(
        recipe.train_dataset(config, data).take(batches),
        epochs=1 + repeats,
        verbose=0,
        shuffle=False,
        callbacks=[timer],
    )
    print(json.dumps({"steps_per_s": batches / min(timer.seconds[1:])}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="models (default: every registered one)")
    parser.add_argument("--batches", type=int, default=20, help="train steps per timed pass")
    parser.add_argument("--repeats", type=int, default=5, help="timed passes (the fastest)")
    parser.add_argument("--child", nargs=2, metavar=("NAME", "JIT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.child[0], args.child[1] == "true", args.batches, args.repeats)
    from gentk.config import resolve_config
    from gentk.plugins import get_registry

    registry = get_registry()
    names = args.names or registry.names("model")
    rows = []
    for name in names:
        recipe = registry.get("model", name).factory
        row = {"model": name}
        if not recipe.jit_supported(resolve_config(recipe.config, None, [])):
            rows.append({**row, "decision": "not compilable"})
            continue
        for jit in (False, True):
            command = [sys.executable, __file__, "--child", name, str(jit).lower()]
            command += ["--batches", str(args.batches), "--repeats", str(args.repeats)]
            out = subprocess.run(command, capture_output=True, text=True)
            if out.returncode != 0:
                row["xla" if jit else "no xla"] = "failed"
                continue
            speed = json.loads(out.stdout.strip().splitlines()[-1])["steps_per_s"]
            row["xla steps/s" if jit else "steps/s"] = speed
        if "steps/s" in row and "xla steps/s" in row:
            ratio = row["xla steps/s"] / row["steps/s"]
            row["xla / none"] = f"{ratio:.2f}x"
            row["decision"] = "xla_on_cpu" if ratio > 1.1 else "off on CPU"
            row["steps/s"] = f"{row['steps/s']:.1f}"
            row["xla steps/s"] = f"{row['xla steps/s']:.1f}"
        rows.append(row)
        print(f"{name} done", file=sys.stderr)
    print(f"train steps per second on the default data and options: the fastest of "
          f"{args.repeats} passes of {args.batches} steps after one traced pass; each "
          "configuration in its own process")  # fmt: skip
    cols = ["model", "steps/s", "xla steps/s", "xla / none", "decision"]
    print(table(rows, [c for c in cols if any(c in r for r in rows)]))


if __name__ == "__main__":
    main()
