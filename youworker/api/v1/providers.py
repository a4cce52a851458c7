"""The process-wide services a route needs, as dependencies (tests swap them for their own)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from youworker.services import runtime
from youworker.services.chat.runs import ChatRuns
from youworker.services.documents.embedders import Embedder
from youworker.services.documents.storage import FileStore
from youworker.services.documents.vectorstore import VectorStore


def chat_runs() -> ChatRuns:
    return runtime.get_chat_runs()


def file_store() -> FileStore:
    return runtime.get_file_store()


def vector_store() -> VectorStore:
    return runtime.get_vector_store()


async def embedder() -> Embedder:
    return await runtime.current_embedder()


Runs = Annotated[ChatRuns, Depends(chat_runs)]
Files = Annotated[FileStore, Depends(file_store)]
Vectors = Annotated[VectorStore, Depends(vector_store)]
CurrentEmbedder = Annotated[Embedder, Depends(embedder)]
