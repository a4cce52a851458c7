"""`youworker` command line: migrate, create-admin, check, generate-key, rotate-key, worker,
import."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.fernet import Fernet

from youworker.logging import configure_logging, get_logger
from youworker.private_files import make_private

if TYPE_CHECKING:
    from youworker.services.documents.vectorstore import VectorStore
    from youworker.settings import Settings

log = get_logger(__name__)


def _out(line: str) -> None:
    sys.stdout.write(line + "\n")


def cmd_migrate(_: argparse.Namespace) -> int:
    from youworker import migrations
    from youworker.settings import get_settings

    settings = get_settings()
    if not settings.database.url:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    migrations.upgrade(settings.database_url)
    log.info("migrated", database=settings.database_url.split("@")[-1])
    return 0


async def _create_admin(email: str, name: str, password: str) -> int:
    from youworker.db import dispose_engine, session_scope
    from youworker.models import Role
    from youworker.services import accounts
    from youworker.services.errors import ServiceError

    try:
        async with session_scope() as db:
            user = await accounts.register(
                db, email=email, password=password, display_name=name, invited=True
            )
            if user.role != Role.ADMIN:
                user.role = Role.ADMIN
                await db.commit()
    except ServiceError as exc:
        _out(f"error: {exc.message}")
        return 1
    finally:
        await dispose_engine()
    _out(f"created admin {user.email}")
    return 0


def cmd_create_admin(args: argparse.Namespace) -> int:
    password = os.environ.get("YOUWORKER_ADMIN_PASSWORD") or getpass.getpass(
        "Password (10+ characters): "
    )
    return asyncio.run(_create_admin(args.email, args.name or args.email.split("@")[0], password))


async def _check() -> int:
    from youworker.db import dispose_engine
    from youworker.services import health
    from youworker.settings import get_settings

    settings = get_settings()
    _out(f"settings: ok (APP_ENV={settings.app_env}, data dir {settings.data_dir.resolve()})")
    probes = await health.probe_all(settings)
    await dispose_engine()
    for probe in probes:
        latency = f" {probe.latency_ms} ms" if probe.latency_ms is not None else ""
        _out(f"{probe.name}: {probe.status}{latency} - {probe.detail}")
    return 1 if any(p.status == "down" for p in probes) else 0


def cmd_check(_: argparse.Namespace) -> int:
    return asyncio.run(_check())


async def _rotate_key(batch_size: int) -> int:
    from youworker.db import dispose_engine, session_scope
    from youworker.services.encryption import get_cipher
    from youworker.services.key_rotation import rotate_all

    try:
        async with session_scope() as db:
            report = await rotate_all(db, get_cipher(), batch_size=batch_size)
    finally:
        await dispose_engine()
    _out(f"re-encrypted {report.rotated} of {report.scanned} rows under the newest key")
    _out("every row now uses the first key in SECURITY__CHAT_MESSAGE_ENCRYPTION_SECRET;")
    _out("older keys can be removed from it.")
    return 0


def cmd_rotate_key(args: argparse.Namespace) -> int:
    return asyncio.run(_rotate_key(args.batch_size))


def _worker_store(settings: Settings) -> VectorStore:
    """The Qdrant server, or the embedded store taken in turns (a file lock per call): separate
    worker processes may be several at once, and a store one process keeps open is not shared."""
    from youworker.services.documents.vectorstore import EdgeVectorStore, open_vector_store

    store = open_vector_store(settings)
    if isinstance(store, EdgeVectorStore) and not store.shared:
        log.info("vector store", store="edge-shared", path=str(store.root))
        return EdgeVectorStore(store.root, shared=True)
    return store


async def _worker(once: bool) -> int:
    import signal

    from youworker.db import dispose_engine
    from youworker.services import runtime
    from youworker.services.documents.ingest import IngestContext
    from youworker.services.documents.worker import IngestionWorker
    from youworker.settings import get_settings

    settings = get_settings()
    store = _worker_store(settings)
    worker = IngestionWorker(
        IngestContext(
            files=runtime.get_file_store(),
            store=store,
            embedder=runtime.current_embedder,
            settings=settings.documents,
        )
    )
    provider = runtime.get_provider_manager()
    await provider.start()
    try:
        if once:
            done = await worker.run_until_idle()
            _out(f"processed {done} job(s)")
            return 0
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        worker.start()
        await stop.wait()
        return 0
    finally:
        await worker.stop()
        await provider.stop()
        await store.close()
        await dispose_engine()


def cmd_worker(args: argparse.Namespace) -> int:
    from youworker.settings import get_settings

    settings = get_settings()
    # Without REDIS__URL the app keeps the embedded store open for itself; with it, the app's
    # workers take turns on it (vectorstore/turns.py), and so do these.
    if settings.llm.qdrant_url is None and settings.redis.url is None and not args.embedded_store:
        _out(
            "error: the embedded vector store belongs to the app process. Set LLM__QDRANT_URL "
            "(or REDIS__URL on the app and the workers, which then take turns on the embedded "
            "store) to run separate workers, or pass --embedded-store while the app is stopped."
        )
        return 2
    return asyncio.run(_worker(args.once))


def cmd_generate_key(_: argparse.Namespace) -> int:
    _out(Fernet.generate_key().decode())
    return 0


async def _import(paths: list[Path], email: str, group: str | None, collection: str | None) -> int:
    from tqdm import tqdm

    from youworker.db import dispose_engine
    from youworker.services import runtime
    from youworker.services.documents import bulk_import
    from youworker.services.errors import ServiceError
    from youworker.settings import get_settings

    try:
        target = await bulk_import.resolve_target(email, group, collection)
        files = bulk_import.files_to_import(paths)
        with tqdm(total=len(files), unit="file", file=sys.stderr) as bar:

            def report(result: bulk_import.FileResult) -> None:
                if result.outcome is bulk_import.Outcome.REFUSED:
                    bar.write(f"refused: {result.label}: {result.reason}", file=sys.stdout)
                bar.update()

            results = await bulk_import.import_files(
                target,
                files,
                runtime.get_file_store(),
                get_settings().documents.max_upload_bytes,
                report,
            )
    except ServiceError as exc:
        _out(f"error: {exc.message}")
        return 2
    finally:
        await dispose_engine()
    counts = {o: sum(1 for r in results if r.outcome is o) for o in bulk_import.Outcome}
    _out(", ".join(f"{counts[o]} {o.value}" for o in bulk_import.Outcome))
    _out("The app indexes the added files; the Documents page shows their progress.")
    return 1 if counts[bulk_import.Outcome.REFUSED] else 0


def cmd_import(args: argparse.Namespace) -> int:
    return asyncio.run(_import(args.paths, args.user, args.group, args.collection))


def _positive_int(raw: str) -> int:
    value = int(raw)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="youworker", description="YouWorker administration")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="apply database migrations").set_defaults(func=cmd_migrate)
    admin = commands.add_parser("create-admin", help="create an administrator account")
    admin.add_argument("email")
    admin.add_argument("--name", default="", help="display name (default: the part before @)")
    admin.set_defaults(func=cmd_create_admin)
    commands.add_parser("check", help="verify settings and every dependency").set_defaults(
        func=cmd_check
    )
    commands.add_parser("generate-key", help="print a new Fernet key").set_defaults(
        func=cmd_generate_key
    )
    rotate = commands.add_parser(
        "rotate-key", help="re-encrypt chat data under the newest Fernet key"
    )
    rotate.add_argument("--batch-size", type=_positive_int, default=500, help="rows per commit")
    rotate.set_defaults(func=cmd_rotate_key)
    worker = commands.add_parser("worker", help="ingest uploaded documents (runs until stopped)")
    worker.add_argument("--once", action="store_true", help="exit when no job is left")
    worker.add_argument(
        "--embedded-store",
        action="store_true",
        help="use the embedded vector store in DATA_DIR while the app is stopped "
        "(several workers take turns on it)",
    )
    worker.set_defaults(func=cmd_worker)
    importer = commands.add_parser(
        "import",
        help="add files and folders from this server to a person's documents (re-running "
        "skips what is already there)",
    )
    importer.add_argument("paths", nargs="+", type=Path, help="files or folders (recursive)")
    importer.add_argument("--user", required=True, help="email of the account they go to")
    importer.add_argument("--group", help="also share them with this group of the user's")
    importer.add_argument(
        "--collection", help="also put them in the user's collection of this name (made if new)"
    )
    importer.set_defaults(func=cmd_import)
    return parser


def main(argv: list[str] | None = None) -> int:
    from youworker.settings import SettingsError, get_settings

    args = build_parser().parse_args(argv)
    try:
        settings = get_settings()
    except SettingsError as exc:
        _out(f"settings: {exc}")
        return 2
    configure_logging(settings.api.log_level)
    make_private(settings)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
