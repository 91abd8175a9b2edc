"""Webhook signatures (Standard Webhooks) and the receivers webhooks may call (SSRF)."""

from __future__ import annotations

import base64
import json
import socket
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from notifications.webhooks.addresses import check_url, refused
from notifications.webhooks.signing import new_secret, signed_headers
from tickets.errors import InvalidInput

# The test vector of the Standard Webhooks specification's reference implementations.
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TIMESTAMP = 1614265330
VECTOR_BODY = '{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_the_specifications_test_vector() -> None:
    at = datetime.fromtimestamp(VECTOR_TIMESTAMP, tz=UTC)
    headers = signed_headers(secret=VECTOR_SECRET, message_id=VECTOR_ID, body=VECTOR_BODY, at=at)
    assert headers == {
        "webhook-id": VECTOR_ID,
        "webhook-timestamp": str(VECTOR_TIMESTAMP),
        "webhook-signature": VECTOR_SIGNATURE,
        "content-type": "application/json",
    }
    # Whatever the time zone the moment is given in.
    paris = at.astimezone(timezone.get_fixed_timezone(60))
    assert (
        signed_headers(secret=VECTOR_SECRET, message_id=VECTOR_ID, body=VECTOR_BODY, at=paris)[
            "webhook-signature"
        ]
        == VECTOR_SIGNATURE
    )


def test_a_receiver_verifies_what_we_sign() -> None:
    secret = new_secret()
    assert secret.startswith("whsec_") and len(base64.b64decode(secret[6:])) == 32
    assert new_secret() != secret
    body = json.dumps({"type": "change.created", "data": {"key": "CHG-1"}})
    headers = signed_headers(secret=secret, message_id="evt_1", body=body, at=timezone.now())
    assert Webhook(secret).verify(body, headers) == json.loads(body)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body + " ", headers)
    stale = signed_headers(
        secret=secret, message_id="evt_1", body=body, at=timezone.now() - timedelta(minutes=6)
    )
    with pytest.raises(WebhookVerificationError, match="too old"):
        Webhook(secret).verify(body, stale)


def resolving_to(*addresses: str):
    def resolve(host, port, type=0):
        family = socket.AF_INET6 if ":" in addresses[0] else socket.AF_INET
        return [(family, type, 6, "", (a, port)) for a in addresses]

    return resolve


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.10", "private"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("224.0.0.1", "multicast"),
        ("0.0.0.0", "unspecified"),  # noqa: S104
        ("240.0.0.1", "reserved"),
        ("100.64.0.1", "not a public"),  # carrier-grade NAT
        ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped
        ("fd00::1", "private"),
    ],
)
def test_non_public_addresses_are_refused(address: str, why: str) -> None:
    with pytest.raises(InvalidInput, match=why) as refusal:
        check_url(
            "https://hooks.example.com/in", allow_private=False, resolve=resolving_to(address)
        )
    assert refusal.value.fields == {"url": [refusal.value.message]}
    assert (
        check_url(
            "https://hooks.example.com/in", allow_private=True, resolve=resolving_to(address)
        ).host
        == "hooks.example.com"
    )


def test_public_addresses_are_called() -> None:
    target = check_url(
        "https://hooks.example.com:8443/in?x=1",
        allow_private=False,
        resolve=resolving_to("93.184.215.14"),
    )
    assert (target.scheme, target.host, target.port) == ("https", "hooks.example.com", 8443)
    assert [str(a) for a in target.addresses] == ["93.184.215.14"]
    assert refused(target.addresses[0]) is None


def test_every_address_of_the_name_must_be_public() -> None:
    with pytest.raises(InvalidInput, match=r"10\.0\.0\.5"):
        check_url(
            "https://hooks.example.com/",
            allow_private=False,
            resolve=resolving_to("93.184.215.14", "10.0.0.5"),
        )


def test_the_setting_decides_by_default(settings) -> None:
    settings.WEBHOOKS_ALLOW_PRIVATE_NETWORKS = False
    with pytest.raises(InvalidInput, match="loopback"):
        check_url("http://127.0.0.1:9/hook")
    with pytest.raises(InvalidInput, match="loopback"):
        check_url("http://localhost:9/hook")
    settings.WEBHOOKS_ALLOW_PRIVATE_NETWORKS = True
    assert check_url("http://127.0.0.1:9/hook").port == 9


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://example.com/", "starts with https://"),
        ("file:///etc/passwd", "starts with https://"),
        ("https://user:pw@example.com/", "no user name or password"),
        ("https://example.com:99999/", "port"),
        ("https:///path", "names a host"),
        ("https://no-such-host.invalid/", "does not resolve"),
    ],
)
def test_malformed_urls_are_refused(url: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        check_url(url, allow_private=True)
