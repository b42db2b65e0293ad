"""The outbound-address guard: which hosts a tool (or later an MCP server or webhook) may call.

A URL given by a caller could point at our own network: a database on `10.0.0.5`, an admin
port on `127.0.0.1`, or the cloud metadata service that hands out credentials. So before any
outbound request we resolve the host ourselves, refuse it when any of its addresses is not
public, and return the address we checked so that the caller connects to exactly that one;
a second DNS lookup by the HTTP client could answer differently (DNS rebinding).

`tools.allow_private_hosts` opens the door on purpose:
- `false` (default): public addresses only.
- `true`: any address, except cloud metadata addresses and hostnames.
- a list of CIDR networks (`127.0.0.0/8`) and hostnames (`localhost`, `tools.internal`): a
  non-public address is allowed when it lies in a listed network or the URL's host is listed.
  A metadata address is allowed only when listed exactly (`169.254.169.254` or
  `169.254.169.254/32`), a metadata hostname only when that hostname is listed.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from dataclasses import dataclass

import httpx

from ..errors import ConfigError, ToolError

__all__ = [
    "METADATA_ADDRESSES",
    "METADATA_HOSTNAMES",
    "AddressGuard",
    "Resolved",
    "UnresolvableHost",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

DEFAULT_PORTS = {"http": 80, "https": 443}

# Instance metadata services hand out cloud credentials; never reachable by accident.
METADATA_ADDRESSES: frozenset[IPAddress] = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean, …
        "169.254.170.2",  # AWS ECS task metadata
        "fd00:ec2::254",  # AWS IPv6
        "100.100.100.200",  # Alibaba Cloud
        "192.0.0.192",  # Oracle Cloud
        "168.63.129.16",  # Azure WireServer (a public address, hence listed)
    )
)
METADATA_HOSTNAMES = frozenset(
    {
        "metadata",
        "metadata.google.internal",
        "metadata.goog",
        "instance-data",
        "instance-data.ec2.internal",
    }
)

_SHARED = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_HOSTNAME = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)(\.(?!-)[a-z0-9_-]{1,63}(?<!-))*$")


@dataclass(frozen=True, slots=True)
class Resolved:
    """A checked URL target: connect to `ip` (or, failing that, the next of `ips`)."""

    scheme: str
    host: str
    port: int
    ip: str
    ips: tuple[str, ...]


class UnresolvableHost(ToolError):
    """The host has no address (now): DNS failed or answered nothing."""


class AddressGuard:
    """Resolves and checks the host of an outbound URL; see the module docstring for rules.
    `setting` names the config key of `allow_private_hosts` in error messages."""

    def __init__(
        self, allow_private_hosts: bool | list[str], setting: str = "tools.allow_private_hosts"
    ) -> None:
        self.setting = setting
        self._allow_all = allow_private_hosts is True
        self._networks: list[IPNetwork] = []
        self._hostnames: set[str] = set()
        if isinstance(allow_private_hosts, list):
            for item in allow_private_hosts:
                self._add(item)

    def _add(self, item: object) -> None:
        where = f"{self.setting}: {item!r}"
        if not isinstance(item, str) or not item.strip():
            raise ConfigError(f"{where} is not a network or hostname")
        text = item.strip().lower()
        try:
            self._networks.append(ipaddress.ip_network(text, strict=False))
            return
        except ValueError as exc:
            if "/" in text or _looks_numeric(text):
                raise ConfigError(f"{where} is not a valid network: {exc}") from None
        name = text.removesuffix(".")
        if len(name) > 253 or not _HOSTNAME.match(name):
            raise ConfigError(f"{where} is neither a CIDR network nor a hostname")
        self._hostnames.add(name)

    async def resolve(self, url: str | httpx.URL) -> Resolved:
        """Check `url` and return its host's addresses; raise `ToolError` (not retryable) when
        the URL is unusable, the host does not resolve, or any address is refused."""
        try:
            parsed = httpx.URL(url)
        except httpx.InvalidURL as exc:
            raise ToolError(f"invalid URL: {exc}") from exc
        scheme = parsed.scheme
        if scheme not in DEFAULT_PORTS:
            raise ToolError(f"unsupported URL scheme {scheme or '(none)'!r}: use http or https")
        host = parsed.host
        if not host:
            raise ToolError(f"URL has no host: {parsed}")
        # The ASCII (IDNA) form, as DNS and the allow list spell it.
        name = parsed.raw_host.decode("ascii").lower().strip("[]").removesuffix(".")
        port = parsed.port or DEFAULT_PORTS[scheme]
        if name in METADATA_HOSTNAMES and name not in self._hostnames:
            raise ToolError(
                f"refusing to call {host}: cloud metadata host (name it explicitly in "
                f"{self.setting} to allow)"
            )
        addresses = await self._lookup(name, port)
        for ip in addresses:
            self._check(name, ip)
        ips = tuple(str(ip) for ip in addresses)
        return Resolved(scheme=scheme, host=host, port=port, ip=ips[0], ips=ips)

    async def _lookup(self, name: str, port: int) -> list[IPAddress]:
        try:
            return [ipaddress.ip_address(name)]
        except ValueError:
            pass
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                name, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
            )
        except (OSError, UnicodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise UnresolvableHost(f"cannot resolve host {name}: {reason}") from exc
        addresses: list[IPAddress] = []
        for *_, sockaddr in infos:
            ip = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
            if ip not in addresses:
                addresses.append(ip)
        if not addresses:
            raise UnresolvableHost(f"cannot resolve host {name}: no addresses")
        return addresses

    def _check(self, name: str, ip: IPAddress) -> None:
        where = name if _is_address(name) else f"{name} ({ip})"
        inner = _embedded_ipv4(ip) if isinstance(ip, ipaddress.IPv6Address) else None
        candidates = [ip] if inner is None else [ip, inner]
        if any(c in METADATA_ADDRESSES for c in candidates):
            exact = any(
                n.num_addresses == 1 and n.network_address in candidates for n in self._networks
            )
            if not (exact or name in self._hostnames & METADATA_HOSTNAMES):
                raise ToolError(
                    f"refusing to call {where}: cloud metadata address (name it explicitly in "
                    f"{self.setting} to allow)"
                )
            return
        kind = _non_public_kind(ip if inner is None else inner)
        if kind is None or self._allow_all or name in self._hostnames:
            return
        if any(c in n for c in candidates for n in self._networks):
            return
        raise ToolError(f"refusing to call {where}: {kind} address (set {self.setting} to allow)")


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _looks_numeric(text: str) -> bool:
    """`10.0.0`, `::1x`: meant as an address, so a typo should not pass as a hostname."""
    return ":" in text or all(part.isdigit() for part in text.split(".") if part)


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (mapped, 6to4, NAT64), which is what the
    packets finally reach."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def _non_public_kind(ip: IPAddress) -> str | None:
    """Why `ip` is not a public unicast address, or None when it is."""
    checks = (
        (ip.is_unspecified, "unspecified"),
        (ip.is_loopback, "loopback"),
        (ip.is_link_local, "link-local"),
        (ip.is_multicast, "multicast"),
        (ip in _SHARED, "shared (100.64.0.0/10)"),
        (isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local, "site-local"),
        (ip.is_reserved, "reserved"),
        (ip.is_private, "private"),
        (not ip.is_global, "non-public"),
    )
    return next((kind for failed, kind in checks if failed), None)
