"""The `tiny_model` fixture: `from conftest_model import tiny_model_fixture` in tests/conftest.py
(or a test module) makes it available under the name `tiny_model`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from tinymodel import build_tiny_checkpoint


@dataclass(frozen=True)
class TinyModel:
    """Paths of the tiny test checkpoint and its Hugging Face folder."""

    checkpoint: Path
    hf_config: Path


@pytest.fixture(scope="session", name="tiny_model")
def tiny_model_fixture(tmp_path_factory: pytest.TempPathFactory) -> TinyModel:
    """A tiny Detoxify-format checkpoint built once per test session, no download."""
    checkpoint, hf_dir = build_tiny_checkpoint(tmp_path_factory.mktemp("tiny_model"))
    return TinyModel(checkpoint=checkpoint, hf_config=hf_dir)
