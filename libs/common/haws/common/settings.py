"""Typed, frozen settings read once at the edge from flags and ``HAWS_*`` variables.

Each service declares one frozen dataclass; every field carries its default, and
the loader below derives the environment name (``HAWS_<FIELD>``) and the flag
(``--field-name``) from the field, so a setting is declared exactly once.
Precedence: flag, then environment, then default.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

ENV_PREFIX = "HAWS_"

T = TypeVar("T")


def env_name(field_name: str) -> str:
    return ENV_PREFIX + field_name.upper()


def flag_name(field_name: str) -> str:
    return "--" + field_name.replace("_", "-")


def _base_type(annotation: Any) -> Any:
    """Unwrap ``X | None`` to ``X`` so the parser knows what to build."""
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return args[0] if len(args) == 1 else str
    return annotation


def _parse_value(name: str, annotation: Any, raw: str) -> Any:
    kind = _base_type(annotation)
    origin = typing.get_origin(kind)
    try:
        if kind is bool:
            lowered = raw.strip().lower()
            if lowered in {"1", "true", "yes", "on"}:
                return True
            if lowered in {"0", "false", "no", "off", ""}:
                return False
            raise ValueError(raw)
        if kind is int:
            return int(raw)
        if kind is float:
            return float(raw)
        if origin is tuple:
            return tuple(part.strip() for part in raw.split(",") if part.strip())
        return raw
    except ValueError as exc:
        raise SettingsError(f"{env_name(name)}: cannot read {raw!r} as {kind}") from exc


class SettingsError(ValueError):
    """A setting has a value that cannot be used; raised before anything starts."""


def load(
    cls: type[T],
    environ: Mapping[str, str] | None = None,
    argv: Sequence[str] | None = None,
    *,
    prog: str | None = None,
) -> T:
    """Build ``cls`` from flags (highest), environment, then field defaults."""
    environ = environ if environ is not None else {}
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for field in dataclasses.fields(cls):  # type: ignore[arg-type]
        raw = environ.get(env_name(field.name))
        if raw is not None:
            values[field.name] = _parse_value(field.name, hints[field.name], raw)
    if argv is not None:
        parser = build_parser(cls, prog=prog)
        parsed = parser.parse_args(list(argv))
        for field in dataclasses.fields(cls):  # type: ignore[arg-type]
            raw = getattr(parsed, field.name, None)
            if raw is not None:
                values[field.name] = _parse_value(field.name, hints[field.name], raw)
    settings = cls(**values)
    if isinstance(settings, NatsSettings):
        check_nats_credentials(settings)
    validate = getattr(settings, "validate", None)
    if callable(validate):
        validate()
    return settings


def build_parser(cls: type[Any], *, prog: str | None = None) -> argparse.ArgumentParser:
    """Flags for every field; ``--help`` shows the variable and the default."""
    parser = argparse.ArgumentParser(prog=prog, description=(cls.__doc__ or "").strip())
    for field in dataclasses.fields(cls):
        default = field.default if field.default is not dataclasses.MISSING else None
        if isinstance(default, tuple):
            default = ",".join(default)
        doc = field.metadata.get("help", "")
        parser.add_argument(
            flag_name(field.name),
            dest=field.name,
            default=None,
            metavar="VALUE",
            help=f"{doc} [env {env_name(field.name)}, default {default!r}]",
        )
    return parser


def setting(default: Any, help: str) -> Any:
    """A dataclass field with a default and the text ``--help`` shows."""
    return dataclasses.field(default=default, metadata={"help": help})


@dataclasses.dataclass(frozen=True, slots=True)
class NatsSettings:
    """How every service reaches NATS and how the stream is declared."""

    nats_url: tuple[str, ...] = setting(
        ("nats://127.0.0.1:4222",), "NATS server URLs, comma separated"
    )
    nats_connect_timeout: float = setting(2.0, "seconds for one NATS connect attempt")
    nats_max_reconnect: int = setting(-1, "reconnect attempts before giving up, -1 forever")
    nats_user: str = setting("", "NATS user name (this service's role, e.g. haws-gateway)")
    nats_password: str = setting("", "NATS password of nats_user (set it in the environment)")
    nats_creds_file: str = setting(
        "", "NATS credentials file (JWT and nkey seed) instead of a user"
    )
    nats_nkey_seed_file: str = setting("", "file holding this service's NATS nkey seed")
    nats_inbox_prefix: str = setting(
        "_INBOX", "prefix of reply subjects; the broker lets each role read only its own"
    )
    nats_tls_ca_file: str = setting("", "PEM CA that signed the NATS servers' certificates")
    nats_tls_cert_file: str = setting("", "PEM client certificate for NATS (mutual TLS)")
    nats_tls_key_file: str = setting("", "PEM private key of nats_tls_cert_file")
    stream_replicas: int = setting(1, "replicas of the HAWS stream and KV buckets")
    stream_max_age: float = setting(86400.0, "seconds a message is kept in the stream")
    stream_max_msgs_per_subject: int = setting(100_000, "messages kept per topic")
    stream_duplicate_window: float = setting(120.0, "seconds a pub mid is remembered")
    events_max_age: float = setting(86400.0, "seconds a lifecycle event is kept in HAWS_EVENTS")
    events_max_msgs: int = setting(10_000_000, "lifecycle events kept in HAWS_EVENTS")
    events_replicas: int = setting(0, "replicas of HAWS_EVENTS (0: as stream_replicas)")
    request_timeout: float = setting(2.0, "seconds for one NATS request or JetStream call")
    trace_exporter: str = setting("none", "traces: none, console, or otlp (OTEL_EXPORTER_OTLP_*)")


def check_nats_credentials(settings: NatsSettings) -> None:
    """One way to log in, complete, with files that exist: else nothing starts."""
    ways = [
        name
        for name, value in (
            ("HAWS_NATS_USER", settings.nats_user),
            ("HAWS_NATS_CREDS_FILE", settings.nats_creds_file),
            ("HAWS_NATS_NKEY_SEED_FILE", settings.nats_nkey_seed_file),
        )
        if value
    ]
    if len(ways) > 1:
        raise SettingsError(f"NATS credentials: set only one of {', '.join(ways)}")
    if bool(settings.nats_user) != bool(settings.nats_password):
        raise SettingsError("HAWS_NATS_USER and HAWS_NATS_PASSWORD go together")
    if bool(settings.nats_tls_cert_file) != bool(settings.nats_tls_key_file):
        raise SettingsError("HAWS_NATS_TLS_CERT_FILE and HAWS_NATS_TLS_KEY_FILE go together")
    files = (
        ("HAWS_NATS_CREDS_FILE", settings.nats_creds_file),
        ("HAWS_NATS_NKEY_SEED_FILE", settings.nats_nkey_seed_file),
        ("HAWS_NATS_TLS_CA_FILE", settings.nats_tls_ca_file),
        ("HAWS_NATS_TLS_CERT_FILE", settings.nats_tls_cert_file),
        ("HAWS_NATS_TLS_KEY_FILE", settings.nats_tls_key_file),
    )
    for variable, path in files:
        if path and not os.path.isfile(path):
            raise SettingsError(f"{variable}: no file {path!r}")
    if not settings.nats_inbox_prefix or any(c in settings.nats_inbox_prefix for c in " .*>"):
        raise SettingsError("HAWS_NATS_INBOX_PREFIX must be one subject token")


def nats_fields() -> set[str]:
    return {f.name for f in dataclasses.fields(NatsSettings)}


def nats_settings_of(settings: Any) -> NatsSettings:
    """Every service settings class embeds the NATS fields; pick them out."""
    return NatsSettings(**{name: getattr(settings, name) for name in nats_fields()})
