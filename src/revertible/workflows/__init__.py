"""Workflows: one module per command's orchestration, above the library, below the CLI.

A workflow loads what a command needs, runs the library's stages, logs to the tracker and
reports; the pure stages it calls live in the pipeline packages. ``train`` is here (it was
``revertible.model.train``): training logs to MLflow, and the tracking layer reads the model, so a
workflow inside ``model`` made a circle.
"""

from __future__ import annotations

from ._train import train

__all__ = ["train"]
