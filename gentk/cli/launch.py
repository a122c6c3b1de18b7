"""``gentk launch --workers N -- COMMAND``: N local worker processes of one multi-worker run.

Each worker gets a ``TF_CONFIG`` naming all N on 127.0.0.1 ports (free ones, or from
``--port``), as Kubernetes' TFJob and other launchers set it on several machines; its output
lines come back prefixed ``[worker I]``. When a worker fails, the others are stopped and the
launch exits with that worker's code, so a dead worker never leaves the rest waiting.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import click

__all__ = ["command", "tf_configs"]


def _free_ports(n: int) -> list[int]:
    sockets = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def tf_configs(workers: int, port: int | None = None, host: str = "127.0.0.1") -> list[str]:
    """The ``TF_CONFIG`` of each of ``workers`` tasks on ``host`` (worker 0 is the chief)."""
    ports = [port + i for i in range(workers)] if port else _free_ports(workers)
    cluster = {"worker": [f"{host}:{p}" for p in ports]}
    return [
        json.dumps({"cluster": cluster, "task": {"type": "worker", "index": i}})
        for i in range(workers)
    ]


def _program(name: str) -> str:
    """``gentk`` and ``python`` from this launcher's own environment (an environment that is
    not activated included); any other program from PATH."""
    if name in ("python", "python3"):
        return sys.executable
    beside = Path(sys.executable).parent / name
    return str(beside) if name == "gentk" and beside.exists() else name


def _stream(index: int, proc: subprocess.Popen, lock: threading.Lock) -> None:
    for line in iter(proc.stdout.readline, ""):
        with lock:
            click.echo(f"[worker {index}] {line.rstrip()}")


def _stop(procs: list[subprocess.Popen], grace: float = 10.0) -> None:
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    for p in procs:
        try:
            p.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


@click.command("launch", context_settings={"ignore_unknown_options": True})
@click.option(
    "--workers", "-n", type=click.IntRange(min=1), default=2, show_default=True,
    help="Worker processes to start on this machine.",
)  # fmt: skip
@click.option(
    "--port",
    type=click.IntRange(min=1, max=65535 - 64),
    default=None,
    help="First of N consecutive ports on 127.0.0.1 (default: free ones).",
)
@click.argument("cmd", nargs=-1, required=True, type=click.UNPROCESSED, metavar="-- COMMAND...")
def command(workers: int, port: int | None, cmd: tuple[str, ...]):
    """Run COMMAND (e.g. `gentk run vae --set distribute=multi-worker`) as N local workers
    of one MultiWorkerMirroredStrategy cluster, e.g.

        gentk launch --workers 2 -- gentk run recommender-vae --data ratings.csv

    Worker 0 is the chief: it writes the run directory; the others train and write nothing.
    On several machines, set TF_CONFIG on each yourself (see docs/scale.md) and run the same
    command there.
    """
    from gentk.errors import UserError

    if cmd and cmd[0] == "--":
        cmd = cmd[1:]
    if not cmd:
        raise UserError("gentk launch: give the command to run after --")
    cmd = [_program(cmd[0]), *cmd[1:]]
    lock = threading.Lock()
    procs, threads = [], []
    try:
        for i, tf_config in enumerate(tf_configs(workers, port)):
            env = {**os.environ, "TF_CONFIG": tf_config, "PYTHONUNBUFFERED": "1"}
            try:
                proc = subprocess.Popen(
                    list(cmd),
                    env=env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    text=True,
                    bufsize=1,
                )
            except OSError as err:
                raise UserError(f"gentk launch: cannot start {cmd[0]!r}: {err.strerror}") from None
            procs.append(proc)
            thread = threading.Thread(target=_stream, args=(i, proc, lock), daemon=True)
            thread.start()
            threads.append(thread)
        failed = None
        while failed is None and any(p.poll() is None for p in procs):
            failed = next((i for i, p in enumerate(procs) if p.poll() not in (None, 0)), None)
            time.sleep(0.2)
        if failed is None:
            failed = next((i for i, p in enumerate(procs) if p.returncode != 0), None)
    except KeyboardInterrupt:
        _stop(procs)
        raise
    finally:
        if any(p.poll() is None for p in procs):
            _stop(procs)
        for proc, t in zip(procs, threads):
            t.join(timeout=5)
            if not t.is_alive():  # its pipe read to the end: close it (a reader still
                proc.stdout.close()  # blocked on a grandchild's pipe keeps it open)
    if failed is not None:
        code = procs[failed].returncode
        how = f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"
        hint = (
            " (its error is above)"
            if code == 2  # a refused option, file or directory: nothing was trained
            else ". Completed checkpoints are kept: run the same command with --resume to continue"
        )
        click.echo(f"Error: worker {failed} {how}; the other workers were stopped{hint}.", err=True)
        sys.exit(code if 0 < code < 256 else 1)
