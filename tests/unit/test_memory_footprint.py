"""The idle backend's memory: heavy packages load on first use, argon2's buffer is given back.

Each check runs in a fresh interpreter, so what this test process already imported or
allocated cannot hide a regression.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from youworker.services import hashing

REPO_ROOT = Path(__file__).resolve().parents[2]
# Loaded only by ingestion, search, MCP servers or the embedded model; never by an idle backend.
LAZY = ("numpy", "tokenizers", "onnxruntime", "llama_cpp", "qdrant_edge", "mcp", "pypdf", "docx")


def _python(code: str) -> Any:
    """Run `code` in a fresh interpreter with the test settings; its last stdout line as JSON."""
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_app_imports_without_the_heavy_packages_and_loads_them_on_use() -> None:
    code = f"""
import json, sys
import youworker.youworker
lazy = {LAZY!r}
idle = sorted(name for name in lazy if name in sys.modules)
from mcp import types
from youworker.services.documents.embedders import sparse_vector
from youworker.services.mcp import result_text
terms = sparse_vector("budget meeting notes")
text = result_text(types.CallToolResult(content=[types.TextContent(text="ok")]))
used = sorted(name for name in ("numpy", "tokenizers") if name in sys.modules)
print(json.dumps([idle, used, len(terms[0]) > 0, text]))
"""
    idle, used, weighted, text = _python(code)
    assert idle == []
    assert used == ["numpy", "tokenizers"]
    assert weighted is True
    assert text == "ok"


def test_password_hashing_returns_argon2s_buffer_to_the_system() -> None:
    code = """
import json
from pathlib import Path
from youworker.services import hashing

def rss() -> int:
    return int(Path("/proc/self/statm").read_text().split()[1]) * 4096

before = rss()  # importing hashing hashed once already (its dummy hash)
for attempt in range(3):
    hashing.verify_password(f"attempt {attempt}", hashing.hash_password("later hashes"))
print(json.dumps(rss() - before))
"""
    grown = _python(code)
    assert isinstance(grown, int)
    # Without the pinned threshold every later hash keeps its 19 MiB in the heap.
    assert grown < hashing.ARGON2_MEMORY_KIB * 1024 // 2
