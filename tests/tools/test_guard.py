"""AddressGuard: which outbound URLs a tool may call. No network: literal addresses, and a
patched `getaddrinfo` where a hostname has to resolve."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Callable
from typing import Any

import pytest

from temporal_executor.errors import ConfigError, ToolError
from temporal_executor.tools.guard import AddressGuard, Resolved


@pytest.fixture
def dns(monkeypatch: pytest.MonkeyPatch) -> Callable[[dict[str, list[str]]], list[str]]:
    """Answer lookups from a table (unknown names fail); returns the list of names asked."""

    def install(table: dict[str, list[str]]) -> list[str]:
        asked: list[str] = []

        async def getaddrinfo(host: str, port: int, **_: Any) -> list[Any]:
            asked.append(host)
            if host not in table:
                raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
            return [
                (
                    socket.AF_INET6 if ":" in ip else socket.AF_INET,
                    socket.SOCK_STREAM,
                    6,
                    "",
                    (ip, port),
                )
                for ip in table[host]
            ]

        monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", getaddrinfo)
        return asked

    return install


async def refused(guard: AddressGuard, url: str) -> ToolError:
    with pytest.raises(ToolError) as info:
        await guard.resolve(url)
    assert info.value.retryable is False
    return info.value


async def test_public_address_resolves_to_itself() -> None:
    resolved = await AddressGuard(False).resolve("https://93.184.216.34/path")
    assert resolved == Resolved(
        scheme="https", host="93.184.216.34", port=443, ip="93.184.216.34", ips=("93.184.216.34",)
    )
    assert (await AddressGuard(False).resolve("http://93.184.216.34:8080")).port == 8080


@pytest.mark.parametrize(
    ("host", "kind"),
    [
        ("10.0.0.5", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("127.0.0.1", "loopback"),
        ("169.254.1.1", "link-local"),
        ("224.0.0.1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("0.0.0.0", "unspecified"),
        ("100.64.0.1", "shared (100.64.0.0/10)"),
        ("[::1]", "loopback"),
        ("[fe80::1]", "link-local"),
        ("[fec0::1]", "site-local"),
        ("[fc00::1]", "private"),
        ("[::ffff:10.0.0.5]", "private"),
        ("[::ffff:127.0.0.1]", "loopback"),
        ("[64:ff9b::a00:5]", "private"),
        ("[2002:7f00:1::]", "loopback"),
    ],
)
async def test_non_public_addresses_are_refused(host: str, kind: str) -> None:
    error = await refused(AddressGuard(False), f"http://{host}/x")
    assert error.message == (
        f"refusing to call {host.strip('[]')}: {kind} address"
        " (set tools.allow_private_hosts to allow)"
    )


async def test_refusal_message_names_the_host_and_reason() -> None:
    error = await refused(AddressGuard(False), "http://10.0.0.5/")
    assert error.message == (
        "refusing to call 10.0.0.5: private address (set tools.allow_private_hosts to allow)"
    )


async def test_allow_true_allows_private_and_loopback() -> None:
    guard = AddressGuard(True)
    assert (await guard.resolve("http://10.0.0.5/")).ip == "10.0.0.5"
    assert (await guard.resolve("http://[::1]:9000/")).ip == "::1"


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://[fd00:ec2::254]/",
        "http://100.100.100.200/",
        "http://[::ffff:169.254.169.254]/",
        "http://metadata.google.internal/computeMetadata/v1/",
        "http://METADATA.google.internal./",
    ],
)
@pytest.mark.parametrize("allow", [True, False, ["169.254.0.0/16", "0.0.0.0/0", "::/0"]])
async def test_metadata_is_refused_even_when_private_hosts_are_allowed(
    url: str, allow: bool | list[str]
) -> None:
    error = await refused(AddressGuard(allow), url)
    assert "cloud metadata" in error.message
    assert "explicitly" in error.message


async def test_metadata_allowed_only_when_named_exactly(dns: Callable[..., list[str]]) -> None:
    dns({"metadata.google.internal": ["169.254.169.254"]})
    guard = AddressGuard(["169.254.169.254/32"])
    assert (await guard.resolve("http://169.254.169.254/")).ip == "169.254.169.254"
    by_name = AddressGuard(["metadata.google.internal"])
    assert (await by_name.resolve("http://metadata.google.internal/")).ip == "169.254.169.254"


async def test_allowed_networks() -> None:
    guard = AddressGuard(["10.0.0.0/8", "127.0.0.0/8"])
    assert (await guard.resolve("http://10.1.2.3/")).ip == "10.1.2.3"
    assert (await guard.resolve("http://127.0.0.1:8000/")).ip == "127.0.0.1"
    mapped = await guard.resolve("http://[::ffff:127.0.0.1]/")
    assert ipaddress.ip_address(mapped.ip) == ipaddress.ip_address("::ffff:127.0.0.1")
    await refused(guard, "http://192.168.1.1/")
    await refused(guard, "http://[::1]/")


async def test_allowed_hostnames(dns: Callable[..., list[str]]) -> None:
    dns({"tools.internal": ["10.1.2.3"], "other.internal": ["10.1.2.4"]})
    guard = AddressGuard(["Tools.Internal."])
    assert (await guard.resolve("http://tools.internal/")).ip == "10.1.2.3"
    error = await refused(guard, "http://other.internal/")
    assert error.message.startswith("refusing to call other.internal (10.1.2.4): private")
    await refused(AddressGuard(False), "http://tools.internal/")


async def test_any_private_address_of_a_name_refuses_it(dns: Callable[..., list[str]]) -> None:
    dns({"mixed.example": ["93.184.216.34", "10.0.0.5"], "public.example": ["93.184.216.34"]})
    guard = AddressGuard(False)
    error = await refused(guard, "http://mixed.example/")
    assert "mixed.example (10.0.0.5)" in error.message
    resolved = await guard.resolve("https://public.example/")
    assert (resolved.host, resolved.port, resolved.ip) == ("public.example", 443, "93.184.216.34")


async def test_localhost_resolves_and_is_allowed_by_name() -> None:
    await refused(AddressGuard(False), "http://localhost/")
    resolved = await AddressGuard(["localhost"]).resolve("http://localhost:1234/")
    assert resolved.ip in ("127.0.0.1", "::1")
    assert resolved.port == 1234


async def test_dns_failure_is_not_retryable(dns: Callable[..., list[str]]) -> None:
    asked = dns({})
    error = await refused(AddressGuard(True), "http://nowhere.invalid/")
    assert error.message.startswith("cannot resolve host nowhere.invalid")
    assert asked == ["nowhere.invalid"]


async def test_literal_addresses_are_not_looked_up(dns: Callable[..., list[str]]) -> None:
    asked = dns({})
    await AddressGuard(True).resolve("http://10.0.0.5/")
    assert asked == []


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://example.com/x",
        "gopher://example.com/",
        "example.com/x",
        "http:///x",
    ],
)
async def test_unusable_urls_are_refused(url: str) -> None:
    error = await refused(AddressGuard(True), url)
    assert "scheme" in error.message or "no host" in error.message


@pytest.mark.parametrize("item", ["10.0.0.0/33", "not a host!", "", "10.0.0", "-bad.example", 5])
def test_invalid_allow_list_items_are_config_errors(item: Any) -> None:
    with pytest.raises(ConfigError) as info:
        AddressGuard([item])
    assert "tools.allow_private_hosts" in info.value.message
    assert repr(item) in info.value.message
