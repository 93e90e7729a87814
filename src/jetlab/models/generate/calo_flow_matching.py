"""``calo_flow_matching``: conditional flow matching for showers, on the jet ``flow_matching`` core.

The objective and the ODE sampler are those of
:class:`~jetlab.models.generate.flow_matching.FlowMatching` (Lipman et al., arXiv:2210.02747), imported, not
copied: a shower is seen as a cloud of one particle whose V features are its transformed voxels ``x``
(one real slot, so the cloud's masked means are plain means). The voxels are standardized as every shower
generator does (:meth:`~jetlab.models.generate.shower_base.ShowerGenerator.inputs`: dequantized, per voxel,
std floored), so the core's own per-feature standardization is left at the identity::

    x_t = (1 − t) x₀ + t x₁,  x₀ ~ N(0, 1),  x₁ = (x − μ_vox) / σ_vox      L = E ‖v_θ(x_t, t, c) − (x₁ − x₀)‖²

Sampling integrates ``dx/dt = v_θ`` from 0 to 1 (``steps`` Euler or midpoint steps). The velocity is
:class:`~jetlab.models.generate.shower_base.VoxelNet` (positional: voxels are not exchangeable, unlike
particles), conditioned on the standardized ln E_inc ``c`` and the particle. The core calls its velocity
with the class labels only; :meth:`ConditionedVelocity.given` holds ``c`` for the duration of one loss or
sampling call.

Shapes: ``batch["x"]`` (B, V), ``batch["energy"]`` (B,) ln E/GeV, ``batch["label"]`` (B,).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, cast

import torch
from torch import Tensor, nn

from jetlab.errors import UsageError
from jetlab.models.generate.flow_matching import FlowMatching
from jetlab.models.generate.generative import Batch, CloudGenerator, Parts
from jetlab.models.generate.shower_base import ShowerGenerator, VoxelNet
from jetlab.models.registry import InputDims, register_model

__all__ = ["ConditionedVelocity", "VoxelFlowMatchingCore", "CaloFlowMatching", "calo_flow_matching"]


class ConditionedVelocity(nn.Module):
    """The core's velocity signature ``(x (B, 1, V), t (B,), labels (B,), mask (B, 1)) → (B, 1, V)`` over a
    :class:`VoxelNet`, with the shower condition ``c`` (B, 1) set by :meth:`given`."""

    def __init__(self, net: VoxelNet) -> None:
        super().__init__()
        self.net = net
        self._c: Tensor | None = None

    @property
    def out(self) -> nn.Linear:  # the core draws its noise like this layer's weight (device, dtype)
        return self.net.out

    @contextmanager
    def given(self, c: Tensor) -> Iterator[None]:
        self._c = c
        try:
            yield
        finally:
            self._c = None

    def forward(self, x: Tensor, t: Tensor, labels: Tensor, mask: Tensor) -> Tensor:
        if self._c is None:
            raise RuntimeError("ConditionedVelocity called outside 'given(c)'")
        return self.net(x[:, 0], t, self._c, labels).unsqueeze(1) * mask.unsqueeze(-1)  # (B, 1, V)


class VoxelFlowMatchingCore(FlowMatching):
    """:class:`FlowMatching` (its loss and ODE solver) on one-slot clouds of V standardized voxels, with a given
    velocity network in place of the particle set transformer (which is therefore never built). It observes no
    statistics: its standardization stays the identity, its multiplicity 1."""

    def __init__(self, n_classes: int, n_voxels: int, velocity: ConditionedVelocity, steps: int, solver: str) -> None:
        CloudGenerator.__init__(self, n_classes, n_voxels, 1)  # FlowMatching.__init__ would build a set transformer
        self.steps, self.solver = int(steps), solver  # what FlowMatching's methods read, with the velocity
        self.velocity = velocity  # type: ignore[assignment]  # the same call signature as the set transformer's

    def observe(self, batch: Batch) -> None:
        """Nothing to learn: the shower model standardizes the voxels before the core sees them."""


class CaloFlowMatching(ShowerGenerator):
    """Flow matching on showers, conditioned on ln E_inc and the particle; see the module docstring.

    Arguments:
        dim, blocks, ff: :class:`VoxelNet` width, residual blocks, hidden width.
        steps, solver: ODE steps and ``euler`` | ``midpoint``.

    Example:
        >>> m = CaloFlowMatching(3, {}, dim=32, ff=32, steps=3)
        >>> m.sample(2, torch.tensor([0, 1]), energy=10.0)["x"].shape
        torch.Size([2, 504])
    """

    def __init__(self, n_classes: int, extra: Mapping[str, Any], dim: int = 128, blocks: int = 3, ff: int = 256,
                 steps: int = 30, solver: str = "euler") -> None:
        super().__init__(n_classes, extra)
        if steps < 1 or solver not in ("euler", "midpoint"):
            raise UsageError(f"calo_flow_matching: steps >= 1 and solver in ('euler', 'midpoint') required "
                             f"(got {steps}, {solver!r})")
        velocity = ConditionedVelocity(VoxelNet(n_classes, self.n_voxels, dim, blocks, ff))
        self.core = VoxelFlowMatchingCore(n_classes, self.n_voxels, velocity, steps, solver)

    @property
    def velocity(self) -> ConditionedVelocity:
        return cast("ConditionedVelocity", self.core.velocity)  # the one the core was given

    def _cloud(self, x: Tensor, labels: Tensor) -> Batch:
        """A batch of one-particle clouds: x (B, 1, V), mask (B, 1) all True."""
        return {"x": x.unsqueeze(1), "mask": torch.ones(x.shape[0], 1, dtype=torch.bool, device=x.device),
                "label": labels}

    def training_loss(self, batch: Batch) -> Parts:
        with self.velocity.given(self.condition(batch["energy"])):
            return self.core.training_loss(self._cloud(self.inputs(batch), batch["label"]))

    @torch.no_grad()
    def sample(self, n: int, labels: Tensor, generator: torch.Generator | None = None,
               energy: Tensor | float | None = None, steps: int | None = None) -> dict[str, Tensor]:
        ln_e = self.sample_log_energy(n, energy, generator, self.velocity.out.weight)  # (n,)
        with self.velocity.given(self.condition(ln_e)):
            x = self.core.sample(n, labels, generator, steps=steps)["x"][:, 0]  # (n, V) standardized
        return self.generated(x, ln_e)


@register_model("calo_flow_matching",
                recipe={"representation": {"voxel_transform": "log"}, "optim": {"lr": 0.0005, "scheduler": "none"},
                        "trainer": {"epochs": 50, "batch_size": 128}},
                family="generative", representation="voxels", task="generate", paper="arXiv:2210.02747",
                dim=128, blocks=3, ff=256, steps=30, solver="euler")
def calo_flow_matching(n_classes: int, dims: InputDims, **hp: Any) -> nn.Module:
    """Flow matching on showers (the jet flow-matching core on one-slot clouds), conditioned on E_inc."""
    return CaloFlowMatching(n_classes, dims.extra, **hp)
