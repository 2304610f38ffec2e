"""Coverage-guided fuzzing of the frame path with atheris (``make fuzz``).

Run: ``.venv/bin/python tests/fuzz/fuzz_frames.py -runs=200000 -max_total_time=60``
(libFuzzer flags). Without a corpus folder argument the seeds of
``frame_checks`` start a temporary corpus; ``frames.dict`` gives the protocol's
words. A crash is any exception other than the typed protocol and token errors:
atheris prints it and writes the input to ``crash-*`` in the current folder.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import atheris

# Only haws and PyJWT are instrumented (everything else would slow the start).
with atheris.instrument_imports(include=["haws", "jwt", "frame_checks"]):
    from frame_checks import SEEDS, check


def main(argv: list[str]) -> None:
    for seed in SEEDS:
        check(seed)  # the harness itself works before fuzzing starts
    args = list(argv)
    if not any(a.startswith("-dict=") for a in args):
        args.insert(1, f"-dict={Path(__file__).with_name('frames.dict')}")
    with tempfile.TemporaryDirectory(prefix="haws-fuzz-") as corpus:
        if not any(not a.startswith("-") for a in args[1:]):
            for n, seed in enumerate(SEEDS):
                Path(corpus, f"seed-{n}").write_bytes(seed)
            args.append(corpus)
        atheris.Setup(args, check)
        atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
