"""The newcomer's app: a fresh data directory and the embedded default, with nothing else.

No test model server and no Ollama: the app runs `LLM__PROVIDER=auto` (the default), finds no
Ollama and answers with the built-in model in its child process, exactly as after `make run`.
The browser fixtures are the e2e package's own.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.app_server import free_port, running_app, server_env
from tests.e2e.conftest import (  # noqa: F401  (fixtures and the failure-report hook)
    SERVER_LOG_KEY,
    browser,
    browser_context_args,
    browser_type,
    browser_type_launch_args,
    chromium_executable,
    playwright,
    pytest_runtest_makereport,
)


@pytest.fixture(scope="package")
def app_url(
    chromium_executable: str,  # noqa: F811
    tmp_path_factory: pytest.TempPathFactory,
    pytestconfig: pytest.Config,
) -> Iterator[str]:
    data_dir = tmp_path_factory.mktemp("newcomer-app")
    port = free_port()
    env = server_env(data_dir, port)
    # Nothing listens on the discard port: the provider's probe fails as on a machine without
    # Ollama, even where a developer runs one on the default port.
    env["LLM__OLLAMA_BASE_URL"] = "http://127.0.0.1:9"
    pytestconfig.stash[SERVER_LOG_KEY] = data_dir / "server.log"
    with running_app(data_dir, port, env) as url:
        yield url


@pytest.fixture(scope="package")
def base_url(app_url: str) -> str:
    return app_url
