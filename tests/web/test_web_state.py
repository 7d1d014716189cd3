"""The web UI's pure state (pixelforge/web/js/state.js): its node tests, run under pytest so that `make test` runs
them. node (Debian's nodejs, in the Makefile's TEST_DEBS) is required: a missing node fails, it does not skip."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

NODE_TESTS = sorted(Path(__file__).parent.glob("*.test.mjs"))


def test_reduce_in_node() -> None:
    node = shutil.which("node") or shutil.which("nodejs")
    assert node, "node is not installed: `make setup-test` installs Debian's nodejs"
    assert NODE_TESTS
    result = subprocess.run([node, "--test", *map(str, NODE_TESTS)], capture_output=True, text=True, timeout=120,
                            check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "# fail 0" in result.stdout
