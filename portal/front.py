"""The production front: nginx's configuration from one template, and a self-signed TLS pair for local use.

``deploy/nginx.conf.template`` is the one template. In docker-compose.yml the nginx image renders it with
``envsubst`` (its ``/etc/nginx/templates`` feature: only ``${NAME}`` of variables set in its environment are
replaced, so nginx's own ``$host`` and friends stay); ``render_template`` does the same here, for the tests that
start Debian's nginx in front of a real gunicorn. Nothing here imports Flask.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import re
from pathlib import Path

TEMPLATE = Path(__file__).resolve().parent.parent / "deploy" / "nginx.conf.template"
# What the template needs, with the values docker-compose.yml gives (the tests give their own).
VARIABLES = (
    "PORTAL_UPSTREAM",  # host:port of gunicorn (never published)
    "S3_UPSTREAM",  # host:port of the S3 server, for the browsers' download links
    "LISTEN_HTTP",  # plain HTTP: redirects to HTTPS
    "LISTEN_HTTPS",  # the portal over TLS
    "LISTEN_S3",  # the S3 download links over TLS (S3_PUBLIC_ENDPOINT_URL)
    "PUBLIC_HTTPS_PORT",  # the HTTPS port as browsers see it (for the redirect)
    "TLS_CERT_FILE",
    "TLS_KEY_FILE",
    "MAX_BODY_SIZE",  # the largest request body (nginx size, e.g. 220m); the app checks each file again
)
_NAME = re.compile(r"\$\{([A-Z][A-Z0-9_]*)\}")


def render_template(values: dict[str, str], template: Path = TEMPLATE) -> str:
    """Replace ``${NAME}`` as the nginx image's envsubst does; refuse a missing value (envsubst would leave it)."""
    text = template.read_text()
    missing = sorted({name for name in _NAME.findall(text) if name not in values})
    if missing:
        raise KeyError(f"nginx template needs {', '.join(missing)}")
    return _NAME.sub(lambda m: str(values[m.group(1)]), text)


def template_variables(template: Path = TEMPLATE) -> set[str]:
    return set(_NAME.findall(template.read_text()))


def self_signed_pair(
    directory: Path, hosts: tuple[str, ...] = ("localhost", "127.0.0.1"), days: int = 825
) -> tuple[Path, Path]:
    """Write ``cert.pem`` and ``key.pem`` (EC P-256, self-signed, for ``hosts``) into ``directory``.

    For local use only: browsers warn about it. In production put the real certificate's files there (or point
    ``TLS_CERT_FILE`` / ``TLS_KEY_FILE`` at them).
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.unlink(missing_ok=True)
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
    # nginx's workers read the key as another user in the container: readable by the group, never by others.
    key_path.chmod(0o640)
    return cert_path, key_path
