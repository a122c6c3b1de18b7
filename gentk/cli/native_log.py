"""Keeps TensorFlow's C++ start-up noise off a user's terminal.

TensorFlow's native code writes straight to file descriptor 2 before its log level applies:
"All log messages before absl::InitializeLog()", "oneDNN custom operations are on", "Could not
find cuda drivers", "failed call to cuInit" on every command of a CPU machine. ``filter_fd2``
moves Python's own ``sys.stderr`` to a duplicate of the terminal's descriptor, points fd 2 at a
pipe, and forwards every native line except the known start-up ones. ``quiet_deprecations``
drops the deprecation notices TensorFlow logs about calls inside its own libraries (TFP's ODE
solver: "calling while_loop_v2 ... with back_prop=False is deprecated", six lines a run),
which a gentk user can do nothing about. ``gentk --debug`` skips both and shows everything.
"""

from __future__ import annotations

import os
import re
import sys
import threading

__all__ = ["NOISE", "filter_fd2", "quiet_deprecations"]

NOISE = re.compile(
    rb"^(WARNING: All log messages before absl::InitializeLog\(\) is called"
    rb"|I\d{4} [\d:. ]+\d+ \S+\.cc:\d+\]"  # absl INFO lines
    rb"|[WE]\d{4} [\d:. ]+\d+ (cuda_platform|cuda_executor|cudart_stub|cpu_feature_guard"
    rb"|cuda_dnn|cuda_fft|cuda_blas|gpu_device|computation_placer)\.cc:\d+\]"
    # Grappler's remapper would fuse Conv2D+BiasAdd+LeakyRelu, but the backward pass reads the
    # BiasAdd output (LeakyReluGrad takes the pre-activation), so it abandons that fusion for
    # the function and TensorFlow runs it unfused: correct results, nothing a user can change
    rb"|E\d{4} [\d:. ]+\d+ meta_optimizer\.cc:\d+\] remapper failed: .*LeakyRelu"
    # a multi-worker run whose peer died: gentk's own line names the worker and the cause
    rb"|[WE]\d{4} [\d:. ]+\d+ (ring_alg|base_collective_executor|collective_ops)\.cc:\d+\]"
    rb".*(Aborting|Cancelled|cancelled|abort)"
    rb"|To enable the following instructions: .* rebuild TensorFlow"
    rb"|.*TF-TRT Warning: Could not find TensorRT)"
)


def filter_fd2() -> None:
    """Route native writes to fd 2 through a filter; Python's writes go straight through."""
    try:
        sys.stderr.flush()
        terminal = os.dup(2)
        read_end, write_end = os.pipe()
        os.dup2(write_end, 2)
        os.close(write_end)
    except OSError:
        return
    sys.stderr = open(  # noqa: SIM115 - lives as long as the process
        terminal,
        "w",
        buffering=1,
        encoding=getattr(sys.stderr, "encoding", None) or "utf-8",
        errors="backslashreplace",
    )

    def pump():
        with open(read_end, "rb", buffering=0) as native:
            for line in iter(native.readline, b""):
                if not NOISE.match(line):
                    os.write(terminal, line)

    threading.Thread(target=pump, name="gentk-native-log", daemon=True).start()


class _LibraryDeprecations:
    """A ``logging`` filter: False for TensorFlow's "is deprecated and will be removed" notices
    about calls made inside tensorflow / tensorflow_probability / keras themselves."""

    LIBRARIES = ("tensorflow_probability", "tensorflow", "keras", "tf_keras")

    def filter(self, record) -> bool:
        message = record.getMessage()
        if "is deprecated and will be removed" not in message:
            return True
        caller = message.split(":", 1)[0]  # "From /.../site-packages/<lib>/...py:448"
        return not any(f"/{lib}/" in caller for lib in self.LIBRARIES)


def quiet_deprecations() -> None:
    """Install the filter on the ``tensorflow`` logger (before or after TF is imported)."""
    import logging

    logging.getLogger("tensorflow").addFilter(_LibraryDeprecations())
