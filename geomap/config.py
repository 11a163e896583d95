"""Settings from the environment or a mapping, validated once at start-up."""
from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from geomap.errors import ConfigError
from geomap.vocabulary import ROLES

DEFAULT_MAX_CONTENT_LENGTH = 16 * 1024 * 1024
ROOT_HOME = Path("/var/lib/geomap")


def default_home() -> Path:
    """Where the embedded cluster lives when GEOMAP_HOME is unset.

    As root the server runs as the `postgres` user, which cannot enter /root, so the
    system data directory is used; otherwise the user's XDG data directory.
    """
    if os.geteuid() == 0:
        return ROOT_HOME
    xdg = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(xdg) / "geomap"


@dataclass(frozen=True)
class Settings:
    """geomap's settings, checked: the database URL (None: the embedded cluster), the home folder,
    the largest request body in bytes, the embedded cluster's port, and the public base URL that
    links, credits and embed snippets name (DESIGN.md decision 12; None: they name no address).
    """

    database_url: str | None
    home: Path
    max_content_length: int = DEFAULT_MAX_CONTENT_LENGTH
    db_port: int | None = None  # the embedded cluster's port; None: the last used, else 54329, else free
    # GEOMAP_PUBLIC_URL: the address users reach the service at (scheme, host, port, path prefix; no
    # trailing slash). Links, Location headers, embed snippets and credits name it, never the Host
    # header a request happened to carry. None: `geomap serve` names its bind address (this
    # machine's name for 0.0.0.0); an app served otherwise, the address its server is bound to.
    public_url: str | None = None
    # Tokens of this role or above may PUT, PATCH and DELETE without If-Match (generic editors
    # such as QGIS send none); None: every such write needs If-Match.
    write_without_if_match: str | None = None

    @classmethod
    def load(cls, mapping: Mapping[str, object] | None = None) -> Settings:
        """Build settings from `mapping` (keys as env names), falling back to os.environ."""
        source: Mapping[str, object] = os.environ if mapping is None else mapping
        return cls(
            database_url=_database_url(source.get("DATABASE_URL")),
            home=_home(source.get("GEOMAP_HOME")),
            max_content_length=_positive_int(
                "GEOMAP_MAX_CONTENT_LENGTH",
                source.get("GEOMAP_MAX_CONTENT_LENGTH", DEFAULT_MAX_CONTENT_LENGTH),
            ),
            db_port=_port("GEOMAP_DB_PORT", source.get("GEOMAP_DB_PORT")),
            public_url=public_url(source.get("GEOMAP_PUBLIC_URL")),
            write_without_if_match=_writer_role("GEOMAP_WRITE_WITHOUT_IF_MATCH",
                                                source.get("GEOMAP_WRITE_WITHOUT_IF_MATCH")),
        )


def _database_url(value: object) -> str | None:
    if value in (None, ""):
        return None
    url = str(value)
    scheme = urlsplit(url).scheme
    if scheme not in ("postgresql", "postgres", "postgresql+psycopg"):
        raise ConfigError(
            f"DATABASE_URL must be a PostgreSQL URL such as postgresql://user@host/db; "
            f"got scheme {scheme!r}"
        )
    return "postgresql+psycopg://" + url.split("://", 1)[1]


def public_url(value: object, name: str = "GEOMAP_PUBLIC_URL") -> str | None:
    """`value` checked as an absolute http(s) URL with a host and no query or fragment, without
    its trailing slash; None when unset.

    >>> public_url("https://maps.example.org/geomap/")
    'https://maps.example.org/geomap'
    """
    if value in (None, ""):
        return None
    url = str(value).strip()
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number in range
    except ValueError as exc:
        raise ConfigError(f"{name} is not a valid URL ({exc}); got {url!r}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{name} must be an http(s) URL with a host, such as https://maps.example.org; "
                          f"got {url!r}")
    if parts.query or parts.fragment or "@" in parts.netloc or any(c.isspace() for c in url):
        raise ConfigError(f"{name} must be a scheme, host, optional port and optional path only, with no "
                          f"user, no query or fragment; got {url!r}")
    return url.rstrip("/")


def _home(value: object) -> Path:
    if value in (None, ""):
        return default_home()
    path = Path(str(value)).expanduser()
    if not path.is_absolute():
        path = Path.cwd() / path
    if path.exists() and not path.is_dir():
        raise ConfigError(f"GEOMAP_HOME={path} exists and is not a directory")
    return path


def _positive_int(name: str, value: object) -> int:
    try:
        number = int(str(value))
    except ValueError:
        raise ConfigError(f"{name} must be a whole number of bytes; got {value!r}") from None
    if number <= 0:
        raise ConfigError(f"{name} must be positive; got {number}")
    return number


def _port(name: str, value: object) -> int | None:
    if value in (None, ""):
        return None
    try:
        port = int(str(value))
    except ValueError:
        raise ConfigError(f"{name} must be a TCP port number (1024..65535); got {value!r}") from None
    if not 1024 <= port <= 65535:
        raise ConfigError(f"{name} must be a TCP port number (1024..65535); got {port}")
    return port


def is_public_address(url: str) -> bool:
    """Whether a URL's host may be printed for readers: not loopback, private, link-local or
    unspecified (an IP literal), and not `localhost`.

    >>> is_public_address("http://127.0.0.1:5491/maps"), is_public_address("https://geomap.example/x")
    (False, True)
    """
    host = urlsplit(url).hostname or ""
    if host == "localhost" or host.endswith(".localhost") or not host:
        return False
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return True
    return not (address.is_loopback or address.is_private or address.is_link_local or address.is_unspecified)


def _writer_role(name: str, value: object) -> str | None:
    if value in (None, ""):
        return None
    writers = ROLES[ROLES.index("editor"):]
    if value not in writers:
        raise ConfigError(f"{name} must be a role that may write ({', '.join(writers)}), or unset; got {value!r}")
    return str(value)
