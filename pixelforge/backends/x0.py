"""The x0 estimate of each step of a diffusers pipeline, from its scheduler.

The noisy latent ``x_t`` looks like noise until the very end; the model's estimate of the clean
image (``x0``) is what a person wants to watch. ``X0Tracker`` wraps the scheduler's ``step`` for
the duration of a run and computes x0 from the model output:

- flow matching (Qwen-Image, Flux, SD3): ``x0 = x_t - sigma_t * v`` with ``sigma_t = t / 1000``;
- DDPM-family schedulers: their own ``pred_original_sample`` when they return one, else from
  ``alphas_cumprod`` for epsilon / v-prediction.

The same x0 is what a keep-partial stop decodes and what a live preview shows.
"""

from __future__ import annotations

from typing import Any

import torch


class X0Tracker:
    """Wraps ``scheduler.step`` on the instance; ``remove()`` restores the class method."""

    def __init__(self, scheduler: Any) -> None:
        self.scheduler = scheduler
        self.latest: torch.Tensor | None = None
        self._original = scheduler.step
        scheduler.step = self._step

    def _step(self, model_output: torch.Tensor, timestep: Any, sample: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
        result = self._original(model_output, timestep, sample, *args, **kwargs)
        self.latest = self._estimate(model_output, timestep, sample, result)
        return result

    def _estimate(self, model_output: torch.Tensor, timestep: Any, sample: torch.Tensor, result: Any) -> torch.Tensor:
        predicted: torch.Tensor | None = getattr(result, "pred_original_sample", None)
        if predicted is None and isinstance(result, tuple) and len(result) > 1 and torch.is_tensor(result[1]):
            predicted = result[1]
        if predicted is not None:
            return predicted.detach()
        config = self.scheduler.config
        t = float(timestep.flatten()[0]) if torch.is_tensor(timestep) else float(timestep)
        alphas_cumprod = getattr(self.scheduler, "alphas_cumprod", None)
        if alphas_cumprod is None:  # flow matching
            sigma = t / float(config.get("num_train_timesteps", 1000))
            return (sample.float() - sigma * model_output.float()).to(sample.dtype).detach()
        alpha: torch.Tensor = alphas_cumprod[round(t)].to(sample.device, torch.float32)
        beta = 1 - alpha
        prediction = config.get("prediction_type", "epsilon")
        x, out = sample.float(), model_output.float()
        if prediction == "v_prediction":
            x0 = alpha.sqrt() * x - beta.sqrt() * out
        elif prediction == "sample":
            x0 = out
        else:
            x0 = (x - beta.sqrt() * out) / alpha.sqrt()
        return x0.to(sample.dtype).detach()

    def remove(self) -> None:
        # ``==``, not ``is``: every ``self._step`` access makes a new bound-method object. With ``is``
        # the wrapper was never removed, and each job wrapped the previous job's wrapper again.
        if self.scheduler.__dict__.get("step") == self._step:
            del self.scheduler.step
        self.latest = None
