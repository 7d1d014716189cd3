"""Engine tests: ``@pytest.mark.gpu`` tests need CUDA and only run where there is a device."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def _needs_cuda(request: pytest.FixtureRequest) -> None:
    # The lead's top-level conftest deselects gpu tests on CPU runs; this keeps a plain
    # `pytest tests/engine` on a CPU machine green too, without hiding them on a GPU one.
    if request.node.get_closest_marker("gpu") is not None and not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
