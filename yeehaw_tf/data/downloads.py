"""Where a TFDS builder downloads from, and whether that host answers, asked in seconds.

TFDS's downloader retries a refused or unresolvable connection ten times with exponential
back-off (minutes, behind a wall of urllib3 warnings) before it gives up; one short TCP connect
to the same host (or to the proxy the downloader would use) tells the same much sooner.
"""

from __future__ import annotations

import socket
import threading
import urllib.parse
import urllib.request

import tensorflow_datasets as tfds

PROBE_TIMEOUT_S = 3.0  # for name resolution and again for the TCP connect
_DEFAULT_PORTS = {"http": 80, "https": 443, "ftp": 21}


def download_urls(builder: tfds.core.DatasetBuilder) -> list[str]:
    """The URLs TFDS would fetch ``builder``'s files from (its recorded checksums), else its
    homepage, else nothing."""
    urls = sorted(builder.url_infos or {})
    if not urls and builder.info.homepage:
        urls = [builder.info.homepage]
    return urls


def probe_address(url: str) -> tuple[str, int]:
    """``(host, port)`` a download of ``url`` connects to first: the proxy set for its scheme in
    the environment (``https_proxy``, ...) unless ``no_proxy`` spares the host, else the host."""
    parts = urllib.parse.urlsplit(url)
    proxy = urllib.request.getproxies().get(parts.scheme)
    if proxy and not urllib.request.proxy_bypass(parts.hostname or ""):
        parts = urllib.parse.urlsplit(proxy if "://" in proxy else f"http://{proxy}")
    return parts.hostname or "", parts.port or _DEFAULT_PORTS.get(parts.scheme, 443)


def connection_error(host: str, port: int, timeout: float = PROBE_TIMEOUT_S) -> str | None:
    """Why no TCP connection to ``host:port`` opens, or None if one does.

    The socket timeout does not cover name resolution, which can hang for as long on a machine
    with a DNS server configured but out of reach; the attempt runs in a daemon thread that is
    waited for at most twice ``timeout``."""
    outcome: list[str | None] = []

    def connect() -> None:
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            outcome.append(None)
        except OSError as error:
            outcome.append(str(error) or type(error).__name__)

    thread = threading.Thread(target=connect, name=f"probe {host}:{port}", daemon=True)
    thread.start()
    thread.join(2 * timeout)
    return outcome[0] if outcome else f"no answer within {2 * timeout:g} s"
