"""The one `httpx.AsyncClient` a process uses for outbound calls (SMS providers, hooks)."""

from __future__ import annotations

import httpx


class OutboundHttp:
    """Creates the shared client on first use and closes it on `aclose`; redirects are not followed."""

    def __init__(self, *, timeout: float, transport: httpx.AsyncBaseTransport | None = None) -> None:
        if timeout <= 0:
            raise ValueError("the outbound HTTP timeout must be positive")
        self.timeout = timeout
        self.transport = transport  # tracing's, when GOTRUE_TRACING_ENABLED
        self._client: httpx.AsyncClient | None = None

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None or self._client.is_closed:
            self._client = httpx.AsyncClient(timeout=self.timeout, follow_redirects=False, transport=self.transport)
        return self._client

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()
