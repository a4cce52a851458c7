"""The built-in embedder's prepared model: made once, int8 compute, close to the packaged one."""

from __future__ import annotations

import subprocess
from collections import Counter
from pathlib import Path

import numpy as np
import onnx
import pytest

from youworker.services.documents.embedders import OnnxMiniLMEmbedder
from youworker.services.documents.minilm_model import (
    packaged_model_path,
    prepared_model_path,
    prepared_name,
)

PASSAGES = [
    "How do I reset my password?",
    "Forgot your password? Use the reset link on the sign-in page.",
    "Cancel a long-running query with pg_cancel_backend(pid).",
    "The quarterly revenue grew by twelve percent.",
]


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model prepared from scratch in an empty cache folder."""
    return prepared_model_path(packaged_model_path(), tmp_path_factory.mktemp("models"))


def test_preparing_writes_an_int8_model_named_after_its_source(prepared: Path) -> None:
    source = packaged_model_path()
    assert prepared.name == prepared_name(source) and prepared.parent.is_dir()
    operators = Counter(node.op_type for node in onnx.load(str(prepared)).graph.node)
    assert operators["MatMulInteger"] >= 36  # every weight product of the 6 layers runs as int8
    assert [p.name for p in prepared.parent.iterdir()] == [prepared.name]  # no leftovers


def test_the_prepared_copy_is_reused(prepared: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_child(*_: object, **__: object) -> None:
        raise AssertionError("prepared again")

    monkeypatch.setattr(subprocess, "run", no_child)
    assert prepared_model_path(packaged_model_path(), prepared.parent) == prepared


def test_prepared_vectors_stay_close_to_the_packaged_model(prepared: Path) -> None:
    packaged = OnnxMiniLMEmbedder().encode(PASSAGES)
    fast = OnnxMiniLMEmbedder(model_path=prepared).encode(PASSAGES)
    assert (packaged * fast).sum(axis=1).min() > 0.97
    question, answer, cancel, revenue = fast
    assert np.dot(question, answer) > np.dot(question, cancel) + 0.3
    assert np.dot(question, answer) > np.dot(question, revenue) + 0.3


def test_a_failed_preparation_falls_back_to_the_packaged_model(tmp_path: Path) -> None:
    not_a_model = tmp_path / "model.onnx"
    not_a_model.write_bytes(b"not an onnx file")
    cache = tmp_path / "models"
    assert prepared_model_path(not_a_model, cache) == not_a_model
    assert list(cache.iterdir()) == []  # the child's work folder went with it


def test_a_damaged_cached_copy_is_dropped_and_the_packaged_model_runs(tmp_path: Path) -> None:
    damaged = tmp_path / prepared_name(packaged_model_path())
    damaged.write_bytes(b"truncated")
    embedder = OnnxMiniLMEmbedder(cache_dir=tmp_path)
    vectors = embedder.encode(PASSAGES[:1])
    assert embedder.model_file == "model.onnx" and vectors.shape == (1, 384)
    assert not damaged.exists()  # the next start prepares it again
