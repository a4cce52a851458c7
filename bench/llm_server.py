"""The Ollama-protocol test server as a child process the benchmarks can steer over stdin.

    python -m bench.llm_server --tokens-per-second 200 --slow-tokens 2000

Prints one JSON line `{"url": ...}` once listening. Each stdin line `slow_tokens N` changes the
length of the "test-slow" answer (the reply is `ok N`). Stops at end of input or on SIGTERM.
Running it in its own process keeps its threads off the interpreter lock of whatever it is
serving, like a real Ollama.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from types import FrameType

from tests.ollama_server import OllamaTestServer, ServerConfig

# Two settings where Python's http.server differs from Ollama (Go), applied to the test server
# in this process only:
# - socketserver's listen backlog is 5: fifty chats connecting at once overflow it and some
#   connections wait for a SYN retry (1 s). Go listens with the system's maximum.
# - Nagle's algorithm is on: on a kept-alive connection the first NDJSON line then waits for the
#   client's delayed ACK of the headers (~40 ms). Go sets TCP_NODELAY on every connection.


def _terminate(_signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(0)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens-per-second", type=float, default=200.0)
    parser.add_argument("--slow-tokens", type=int, default=2000)
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    server = OllamaTestServer(
        config=ServerConfig(tokens_per_second=args.tokens_per_second, slow_tokens=args.slow_tokens)
    )
    server.start()
    try:
        sys.stdout.write(json.dumps({"url": server.url}) + "\n")
        sys.stdout.flush()
        for line in sys.stdin:
            command, _, value = line.strip().partition(" ")
            if command == "slow_tokens" and value.isdigit():
                server.config.slow_tokens = int(value)
                sys.stdout.write(f"ok {value}\n")
            else:
                sys.stdout.write(f"error unknown command {line.strip()!r}\n")
            sys.stdout.flush()
    finally:
        server.stop()


if __name__ == "__main__":
    main()
