"""Settings of the security middleware and the parsed :class:`SecurityConfig`.

Every limit, window and policy is a ``FLUX_SECURITY_*`` or ``FLUX_RATE_LIMIT_*``
environment variable declared here, so the configuration reference and the error
messages come from the one settings table.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from otel_flux import settings
from otel_flux.settings import IPNetwork, define

_GROUP = "security"
_HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def parse_login_routes(text: str) -> tuple[tuple[str, str], ...]:
    """Parse ``METHOD /path`` entries separated by commas."""
    routes = []
    for item in settings.parse_csv(text):
        parts = item.split()
        if len(parts) != 2:
            raise ValueError(f"{item!r} is not of the form 'METHOD /path'")
        method, path = parts[0].upper(), parts[1]
        if method not in _HTTP_METHODS:
            raise ValueError(f"{parts[0]!r} is not an HTTP method")
        if not path.startswith("/"):
            raise ValueError(f"the path {path!r} does not start with '/'")
        routes.append((method, path))
    return tuple(routes)


def parse_status_list(text: str) -> frozenset[int]:
    """Parse comma-separated HTTP status codes between 400 and 599."""
    parse_one = settings.int_parser(400, 599)
    codes = frozenset(parse_one(item) for item in settings.parse_csv(text))
    if not codes:
        raise ValueError("the list is empty")
    return codes


def choice_parser(*choices: str) -> Callable[[str], str]:
    """Return a parser that accepts one of ``choices``, case-insensitively."""

    def parse(text: str) -> str:
        lowered = text.lower()
        if lowered not in choices:
            raise ValueError(f"use one of {', '.join(choices)}")
        return lowered

    return parse


_positive_int = settings.int_parser(minimum=1)
_positive_seconds = settings.float_parser(minimum=0.001)
_on_error = choice_parser("allow", "reject")
_DEFAULT_LOGIN_ROUTES: tuple[tuple[str, str], ...] = (("POST", "/api/auth/login"),)
_NO_NETWORKS: tuple[IPNetwork, ...] = ()

HMAC_KEY = define(
    "FLUX_SECURITY_HMAC_KEY",
    None,
    settings.parse_str,
    accepted="any non-empty string, ideally 32 or more random bytes",
    doc=(
        "Key of the HMAC that turns login identifiers into Redis key names. Every "
        "instance must use the same key to share per-account counters; when unset, "
        "each process draws a random key and logs a warning."
    ),
    group=_GROUP,
    secret=True,
)
LOGIN_ROUTES = define(
    "FLUX_SECURITY_LOGIN_ROUTES",
    _DEFAULT_LOGIN_ROUTES,
    parse_login_routes,
    accepted="comma-separated 'METHOD /path' entries",
    doc="Requests whose body is read for the login identifier and whose status counts.",
    group=_GROUP,
)
LOGIN_IDENTIFIER_FIELD = define(
    "FLUX_SECURITY_LOGIN_IDENTIFIER_FIELD",
    "email",
    settings.parse_str,
    accepted="a JSON or form field name",
    doc="Field of the login body (JSON or form) that names the account.",
    group=_GROUP,
)
LOGIN_FAILURE_STATUSES = define(
    "FLUX_SECURITY_LOGIN_FAILURE_STATUSES",
    frozenset({401}),
    parse_status_list,
    accepted="comma-separated HTTP status codes from 400 to 599",
    doc="Login response statuses that record a failed login.",
    group=_GROUP,
)
LOGIN_BODY_MAX_BYTES = define(
    "FLUX_SECURITY_LOGIN_BODY_MAX_BYTES",
    16384,
    settings.int_parser(64, 1048576),
    accepted="an integer from 64 to 1048576",
    doc="Largest login body read; a larger one is rejected with 413.",
    group=_GROUP,
)
RATE_LIMIT = define(
    "FLUX_RATE_LIMIT_LIMIT",
    100,
    _positive_int,
    accepted="an integer of at least 1",
    doc="Requests per client address in one window on routes other than login.",
    group=_GROUP,
)
RATE_LIMIT_WINDOW = define(
    "FLUX_RATE_LIMIT_WINDOW_S",
    60.0,
    _positive_seconds,
    accepted="a number of seconds of at least 0.001",
    doc="Window of the general rate limit (sliding-window counter), in seconds.",
    group=_GROUP,
)
LOGIN_RATE_LIMIT = define(
    "FLUX_RATE_LIMIT_LOGIN_LIMIT",
    10,
    _positive_int,
    accepted="an integer of at least 1",
    doc="Login requests per client address in one window (exact sliding log).",
    group=_GROUP,
)
LOGIN_RATE_LIMIT_WINDOW = define(
    "FLUX_RATE_LIMIT_LOGIN_WINDOW_S",
    60.0,
    _positive_seconds,
    accepted="a number of seconds of at least 0.001",
    doc="Window of the login rate limit, in seconds.",
    group=_GROUP,
)
BRUTE_FORCE_THRESHOLD = define(
    "FLUX_SECURITY_BRUTE_FORCE_THRESHOLD",
    5,
    _positive_int,
    accepted="an integer of at least 1",
    doc=(
        "Failed logins per address, or per account, within the window after which "
        "further attempts are blocked; reaching it from one address bans that address."
    ),
    group=_GROUP,
)
BRUTE_FORCE_WINDOW = define(
    "FLUX_SECURITY_BRUTE_FORCE_WINDOW_S",
    900.0,
    _positive_seconds,
    accepted="a number of seconds of at least 0.001",
    doc="Window in which failed logins are counted, in seconds.",
    group=_GROUP,
)
BAN_BASE = define(
    "FLUX_SECURITY_BAN_BASE_S",
    60.0,
    _positive_seconds,
    accepted="a number of seconds of at least 0.001",
    doc="Length of a first ban; each repeat offence doubles it.",
    group=_GROUP,
)
BAN_MAX = define(
    "FLUX_SECURITY_BAN_MAX_S",
    86400.0,
    _positive_seconds,
    accepted="a number of seconds of at least 0.001",
    doc="Cap on the length of a ban, jitter included.",
    group=_GROUP,
)
BAN_JITTER = define(
    "FLUX_SECURITY_BAN_JITTER",
    0.1,
    settings.float_parser(0.0, 1.0),
    accepted="a fraction from 0 to 1",
    doc="A ban is lengthened by a random fraction up to this value of its length.",
    group=_GROUP,
)
OFFENCE_MEMORY = define(
    "FLUX_SECURITY_OFFENCE_MEMORY_S",
    86400.0,
    _positive_seconds,
    accepted="a number of seconds of at least 0.001",
    doc="How long an address's ban count is kept for escalating its next ban.",
    group=_GROUP,
)
FAILED_LOGIN_PENALTY = define(
    "FLUX_SECURITY_REPUTATION_FAILED_LOGIN_PENALTY",
    10,
    settings.int_parser(0, 100),
    accepted="an integer from 0 to 100",
    doc="Reputation points an address loses per failed login.",
    group=_GROUP,
)
RATE_LIMIT_PENALTY = define(
    "FLUX_SECURITY_REPUTATION_RATE_LIMIT_PENALTY",
    5,
    settings.int_parser(0, 100),
    accepted="an integer from 0 to 100",
    doc="Reputation points an address loses per rate-limited request.",
    group=_GROUP,
)
REPUTATION_RECOVERY = define(
    "FLUX_SECURITY_REPUTATION_RECOVERY_PER_MINUTE",
    1.0,
    settings.float_parser(0.001, 6000.0),
    accepted="a number of points per minute from 0.001 to 6000",
    doc="Reputation points an address regains per minute, up to 100.",
    group=_GROUP,
)
ACCOUNT_LOCK_MIN_REPUTATION = define(
    "FLUX_SECURITY_ACCOUNT_LOCK_MIN_REPUTATION",
    100,
    settings.int_parser(0, 101),
    accepted="an integer from 0 to 101",
    doc=(
        "An account with too many failed logins stays open to addresses whose "
        "reputation is at least this value; 101 locks it for every address."
    ),
    group=_GROUP,
)
ALLOWLIST = define(
    "FLUX_SECURITY_ALLOWLIST",
    _NO_NETWORKS,
    settings.parse_cidr_list,
    accepted="a comma-separated list of IP addresses or CIDR blocks",
    doc="Client addresses that skip every check; 'otel-flux security allow' adds more.",
    group=_GROUP,
)
KEY_PREFIX = define(
    "FLUX_SECURITY_KEY_PREFIX",
    "flux:sec:",
    settings.parse_str,
    accepted="any non-empty string",
    doc="Prefix of every Redis key the middleware writes.",
    group=_GROUP,
)
REDIS_TIMEOUT = define(
    "FLUX_SECURITY_REDIS_TIMEOUT_MS",
    100.0,
    settings.float_parser(1.0, 10000.0),
    accepted="a number of milliseconds from 1 to 10000",
    doc="Bound on each Redis call the middleware makes, connecting included.",
    group=_GROUP,
)
REDIS_RETRY_INTERVAL = define(
    "FLUX_SECURITY_REDIS_RETRY_INTERVAL_S",
    1.0,
    settings.float_parser(0.0, 300.0),
    accepted="a number of seconds from 0 to 300",
    doc=(
        "After a failed Redis call, requests skip Redis for this long and get the "
        "error policy at once; 0 tries Redis on every request."
    ),
    group=_GROUP,
)
ON_REDIS_ERROR = define(
    "FLUX_SECURITY_ON_REDIS_ERROR",
    "allow",
    _on_error,
    accepted="allow or reject",
    doc="Decision for routes other than login when Redis fails (reject returns 503).",
    group=_GROUP,
)
LOGIN_ON_REDIS_ERROR = define(
    "FLUX_SECURITY_LOGIN_ON_REDIS_ERROR",
    "reject",
    _on_error,
    accepted="allow or reject",
    doc="Decision for login routes when Redis fails (reject returns 503).",
    group=_GROUP,
)


@dataclass(frozen=True, slots=True)
class SecurityConfig:
    """Parsed security settings; times are in seconds unless the name says otherwise."""

    hmac_key: bytes | None = None
    login_routes: tuple[tuple[str, str], ...] = LOGIN_ROUTES.default
    login_identifier_field: str = LOGIN_IDENTIFIER_FIELD.default
    login_failure_statuses: frozenset[int] = LOGIN_FAILURE_STATUSES.default
    login_body_max_bytes: int = LOGIN_BODY_MAX_BYTES.default
    rate_limit: int = RATE_LIMIT.default
    rate_limit_window: float = RATE_LIMIT_WINDOW.default
    login_rate_limit: int = LOGIN_RATE_LIMIT.default
    login_rate_limit_window: float = LOGIN_RATE_LIMIT_WINDOW.default
    brute_force_threshold: int = BRUTE_FORCE_THRESHOLD.default
    brute_force_window: float = BRUTE_FORCE_WINDOW.default
    ban_base: float = BAN_BASE.default
    ban_max: float = BAN_MAX.default
    ban_jitter: float = BAN_JITTER.default
    offence_memory: float = OFFENCE_MEMORY.default
    failed_login_penalty: int = FAILED_LOGIN_PENALTY.default
    rate_limit_penalty: int = RATE_LIMIT_PENALTY.default
    reputation_recovery_per_minute: float = REPUTATION_RECOVERY.default
    account_lock_min_reputation: int = ACCOUNT_LOCK_MIN_REPUTATION.default
    allowlist: tuple[IPNetwork, ...] = ALLOWLIST.default
    trusted_proxies: tuple[IPNetwork, ...] = field(default=())
    key_prefix: str = KEY_PREFIX.default
    redis_timeout_ms: float = REDIS_TIMEOUT.default
    redis_retry_interval: float = REDIS_RETRY_INTERVAL.default
    on_redis_error: str = ON_REDIS_ERROR.default
    login_on_redis_error: str = LOGIN_ON_REDIS_ERROR.default

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SecurityConfig:
        """Read every setting; an invalid value is logged and replaced by its default."""
        key = HMAC_KEY.read(environ)
        return cls(
            hmac_key=key.encode() if key else None,
            login_routes=LOGIN_ROUTES.read(environ),
            login_identifier_field=LOGIN_IDENTIFIER_FIELD.read(environ),
            login_failure_statuses=LOGIN_FAILURE_STATUSES.read(environ),
            login_body_max_bytes=LOGIN_BODY_MAX_BYTES.read(environ),
            rate_limit=RATE_LIMIT.read(environ),
            rate_limit_window=RATE_LIMIT_WINDOW.read(environ),
            login_rate_limit=LOGIN_RATE_LIMIT.read(environ),
            login_rate_limit_window=LOGIN_RATE_LIMIT_WINDOW.read(environ),
            brute_force_threshold=BRUTE_FORCE_THRESHOLD.read(environ),
            brute_force_window=BRUTE_FORCE_WINDOW.read(environ),
            ban_base=BAN_BASE.read(environ),
            ban_max=BAN_MAX.read(environ),
            ban_jitter=BAN_JITTER.read(environ),
            offence_memory=OFFENCE_MEMORY.read(environ),
            failed_login_penalty=FAILED_LOGIN_PENALTY.read(environ),
            rate_limit_penalty=RATE_LIMIT_PENALTY.read(environ),
            reputation_recovery_per_minute=REPUTATION_RECOVERY.read(environ),
            account_lock_min_reputation=ACCOUNT_LOCK_MIN_REPUTATION.read(environ),
            allowlist=ALLOWLIST.read(environ),
            trusted_proxies=settings.TRUSTED_PROXIES.read(environ),
            key_prefix=KEY_PREFIX.read(environ),
            redis_timeout_ms=REDIS_TIMEOUT.read(environ),
            redis_retry_interval=REDIS_RETRY_INTERVAL.read(environ),
            on_redis_error=ON_REDIS_ERROR.read(environ),
            login_on_redis_error=LOGIN_ON_REDIS_ERROR.read(environ),
        )
