"""Generative task: train a jet generator of the registry; draw jets from it into a dataset file.

Particle-cloud models learn the N hardest constituents of each jet as (Δη, Δφ, pT/pT_jet) with a
mask (JetNet's convention, arXiv:2106.11535), conditional on the class; the ``flow`` learns the
high-level features. Likelihood-type models (VAE, flow, flow matching) minimize their
``training_loss``; the GAN alternates discriminator and generator steps (manual optimization).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any, cast

import lightning as L
import numpy as np
import torch

from jetlab.data.module import JetDataModule
from jetlab.models import InputDims, create
from jetlab.tasks.registry import TaskSpec, register_task

if TYPE_CHECKING:
    from lightning.pytorch.core.optimizer import LightningOptimizer

    from jetlab.models.generate.generative import Generator
    from jetlab.models.generate.set_gan import SetGAN

__all__ = ["GenerativeModule", "CLOUD_FEATURES", "relative_to_jets", "generative_module"]

CLOUD_FEATURES = ("etarel", "phirel", "ptrel")


class GenerativeModule(L.LightningModule):
    """A registry generator trained on the class-labelled jets of the training split."""

    def __init__(self, model: str, hparams: dict[str, Any], dims: dict[str, Any], n_classes: int,
                 class_names: list[str], optim: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.save_hyperparameters()
        # a generative registry entry builds a Generator (the registry's type says only nn.Module)
        self.model = cast("Generator", create(model, n_classes=n_classes, dims=InputDims(**dims), **hparams))
        from jetlab.tasks.classify import OptimConfig

        self.optim = OptimConfig(**(optim or {}))
        self.adversarial = hasattr(self.model, "discriminator_loss")
        self.automatic_optimization = not self.adversarial

    def _log(self, stage: str, total: torch.Tensor, parts: dict[str, torch.Tensor], n: int) -> None:
        self.log(f"{stage}_loss", total, prog_bar=True, on_epoch=True, on_step=False, batch_size=n, sync_dist=True)
        for k, v in parts.items():
            self.log(f"{stage}_{k}", v, on_epoch=True, on_step=False, batch_size=n, sync_dist=True)

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor | None:
        n = batch["x"].shape[0]
        if not self.adversarial:
            total, parts = self.model.training_loss(batch)
            self._log("train", total, parts, n)
            return total
        gan = cast("SetGAN", self.model)  # adversarial: the GAN's two losses
        opt_g, opt_d = cast("list[LightningOptimizer]", self.optimizers())  # two optimizers: a list
        for opt, loss_fn in ((opt_d, gan.discriminator_loss), (opt_g, gan.generator_loss)):
            opt.zero_grad()
            total, parts = loss_fn(batch)
            self.manual_backward(total)
            opt.step()
            self._log("train", total, parts, n)
        return None

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        n = batch["x"].shape[0]
        with torch.enable_grad() if self.adversarial else torch.no_grad():
            total, parts = (cast("SetGAN", self.model).generator_loss(batch) if self.adversarial
                            else self.model.training_loss(batch))
        self._log("val", total, parts, n)
        return total

    def configure_optimizers(self) -> Any:
        o = self.optim
        if self.adversarial:
            betas = (0.5, 0.9)  # the usual GAN choice
            gan = cast("SetGAN", self.model)
            return [torch.optim.Adam(gan.generator.parameters(), lr=o.lr, betas=betas),
                    torch.optim.Adam(gan.discriminator.parameters(), lr=o.lr, betas=betas)]
        from jetlab.tasks.classify import build_optimizers

        return build_optimizers(self, o)


def generative_module(cfg: Any, dm: JetDataModule) -> GenerativeModule:
    """The generator, conditioned on the dataset's class label (one embedding per class of its scheme)."""
    return GenerativeModule(cfg.model, cfg.hparams, asdict(dm.builder.dims()), len(dm.scheme_or_fail().classes),
                            list(dm.selection.names), asdict(cfg.optim))


register_task(TaskSpec("generate", JetDataModule, generative_module, early_stopping=False, samples=True,
                       description="jet generation: particle clouds or high-level features, per class"))


def relative_to_jets(x: np.ndarray, mask: np.ndarray, labels: np.ndarray, jet_pt: np.ndarray,
                     jet_eta: np.ndarray) -> Any:
    """Absolute `Jets` from relative clouds (Δη, Δφ, pT_rel), massless particles, jet φ = 0.

    The jet pT and η are given per jet (e.g. drawn from the training sample); the stored jet
    four-vector is the sum of the particles and the high-level features are computed from them.
    """
    from jetlab.io.jets import Jets
    from jetlab.physics.features import features_from_p4
    from jetlab.physics.kinematics import p4_from_pt_eta_phi_m, pt_eta_phi_m
    from jetlab.schema import HLF_NAMES, KINEMATIC_FEATURES

    order = np.argsort(-np.where(mask, x[..., 2], -np.inf), axis=1, kind="stable")  # pT-ordered
    x = np.take_along_axis(x, order[..., None], axis=1)
    mask = np.take_along_axis(mask, order, axis=1)
    pt = np.where(mask, np.maximum(x[..., 2], 1e-6) * jet_pt[:, None], 0.0)
    eta = np.where(mask, x[..., 0] + jet_eta[:, None], 0.0)
    phi = np.where(mask, (x[..., 1] + np.pi) % (2 * np.pi) - np.pi, 0.0)
    px, py, pz, e = (np.where(mask, a, 0.0) for a in p4_from_pt_eta_phi_m(pt, eta, phi, np.zeros_like(pt)))
    counts = mask.sum(axis=1).astype(np.int32)
    cons = np.stack([px, py, pz, e, pt, eta, phi], axis=-1).astype(np.float32)  # no charge / PDG id
    p4 = np.stack([px, py, pz, e], axis=-1)
    jet = np.stack(pt_eta_phi_m(*p4.sum(axis=1).T), axis=1).astype(np.float32)
    return Jets(constituents=cons, n_particles=counts, particle_names=list(KINEMATIC_FEATURES), jet=jet,
                hlf=features_from_p4(p4, counts), hlf_names=list(HLF_NAMES), labels=labels.astype(np.int64),
                meta={"format": "jetlab", "generated": True})
