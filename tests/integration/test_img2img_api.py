"""img2img and inpainting through the Python API: PIL images, paths or bytes in, the same tasks as the
server runs, a stop token that stops them, and bad images refused before anything is stored."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pixelforge.tasks.model import TaskState
from pixelforge.testing.images import left_half_mask, png_bytes, sprite


def test_python_api_inpainting_with_a_stop_token(tmp_path: Path) -> None:
    from pixelforge import Img2ImgOptions, Pixelforge, StopToken
    from pixelforge.tasks.service import InvalidTask

    sprite().save(tmp_path / "sprite.png")
    with Pixelforge(model="sprite", data_dir=tmp_path / "api") as pf:
        images = pf.generate("a knight", init_image=tmp_path / "sprite.png", mask=left_half_mask(), strength=0.5,
                             steps=4, seed=2, img2img=Img2ImgOptions(inpainting_fill="latent_noise"))
        task = pf.runtime.service.list(limit=1)[0]
        assert task.type == "img2img" and task.id.startswith("task(img2img-")
        assert task.params.img2img == Img2ImgOptions(denoising_strength=0.5, inpainting_fill="latent_noise")
        out = np.asarray(images[0].open())
        assert np.array_equal(out[:, 16:], np.asarray(sprite())[:, 16:])

        unchanged = pf.generate("x", init_image=png_bytes(sprite()), strength=0.0, steps=4)
        assert np.array_equal(np.asarray(unchanged[0].open()), np.asarray(sprite()))

        token = StopToken()
        handle = pf.submit("x", init_image=sprite(), strength=1.0, steps=50, stop=token,
                           on_step=lambda info: token.interrupt() if info.step == 2 else None)
        stopped = handle.wait()
        assert stopped.state is TaskState.INTERRUPTED and stopped.progress.step == 2

        with pytest.raises(InvalidTask, match="init_image: is not an image"):
            pf.submit("x", init_image=b"nope")
        with pytest.raises(ValueError, match="a mask needs an init_image"):
            pf.submit("x", mask=left_half_mask())
        assert len(pf.runtime.tokens) == 0
