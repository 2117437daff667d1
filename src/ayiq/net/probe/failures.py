"""OONI failure strings (data-formats df-007-errors) for every way a network step can fail.

One mapping, used by every step, so our measurements and OONI's can be analysed together.
"""

from __future__ import annotations

import errno
import ssl

GENERIC_TIMEOUT = "generic_timeout_error"
CONNECTION_REFUSED = "connection_refused"
CONNECTION_RESET = "connection_reset"
CONNECTION_ABORTED = "connection_aborted"
EOF_ERROR = "eof_error"
HOST_UNREACHABLE = "host_unreachable"
NETWORK_UNREACHABLE = "network_unreachable"
NETWORK_DOWN = "network_down"
DNS_NXDOMAIN = "dns_nxdomain_error"
DNS_NO_ANSWER = "dns_no_answer"
DNS_REFUSED = "dns_refused_error"
DNS_SERVFAIL = "dns_servfail_error"
DNS_MISBEHAVING = "dns_server_misbehaving"
DNS_WRONG_QUERY_ID = "dns_reply_with_wrong_query_id"
DNS_NON_RECOVERABLE = "dns_non_recoverable_failure"
DNS_TEMPORARY = "dns_temporary_failure"
DNS_BOGON = "dns_bogon_error"
SSL_INVALID_HOSTNAME = "ssl_invalid_hostname"
SSL_UNKNOWN_AUTHORITY = "ssl_unknown_authority"
SSL_INVALID_CERTIFICATE = "ssl_invalid_certificate"
SSL_FAILED_HANDSHAKE = "ssl_failed_handshake"
INTERRUPTED = "interrupted"
JSON_PARSE_ERROR = "json_parse_error"
HTTP_REQUEST_FAILED = "http_request_failed"

# OpenSSL X509 verify codes (x509_vfy.h) that mean "who signed this is unknown to us".
_UNKNOWN_AUTHORITY_CODES = {2, 18, 19, 20, 21, 27, 28}
_HOSTNAME_MISMATCH_CODES = {62}

_ERRNO = {
    errno.ECONNREFUSED: CONNECTION_REFUSED,
    errno.ECONNRESET: CONNECTION_RESET,
    errno.ECONNABORTED: CONNECTION_ABORTED,
    errno.EHOSTUNREACH: HOST_UNREACHABLE,
    errno.ENETUNREACH: NETWORK_UNREACHABLE,
    errno.ENETDOWN: NETWORK_DOWN,
    errno.ETIMEDOUT: GENERIC_TIMEOUT,
    errno.EPIPE: CONNECTION_RESET,
}


def unknown(detail: str) -> str:
    """OONI's catch-all: ``unknown_failure: <detail>`` (detail kept short, one line)."""
    return "unknown_failure: " + " ".join(detail.split())[:160]


def classify(exc: BaseException) -> str:
    """The df-007 failure string for an exception raised by a network step."""
    if isinstance(exc, TimeoutError):  # asyncio.TimeoutError is TimeoutError since 3.11
        return GENERIC_TIMEOUT
    if isinstance(exc, ssl.SSLCertVerificationError):
        code = getattr(exc, "verify_code", None)
        if code in _HOSTNAME_MISMATCH_CODES:
            return SSL_INVALID_HOSTNAME
        if code in _UNKNOWN_AUTHORITY_CODES:
            return SSL_UNKNOWN_AUTHORITY
        return SSL_INVALID_CERTIFICATE
    if isinstance(exc, ssl.SSLZeroReturnError | ssl.SSLEOFError):
        return EOF_ERROR
    if isinstance(exc, ssl.SSLError):
        return SSL_FAILED_HANDSHAKE
    if isinstance(exc, ConnectionRefusedError):
        return CONNECTION_REFUSED
    if isinstance(exc, ConnectionResetError | BrokenPipeError):
        return CONNECTION_RESET
    if isinstance(exc, ConnectionAbortedError):
        return CONNECTION_ABORTED
    if isinstance(exc, EOFError):
        return EOF_ERROR
    if isinstance(exc, OSError) and exc.errno in _ERRNO:
        return _ERRNO[exc.errno]
    return unknown(f"{type(exc).__name__}: {exc}")
