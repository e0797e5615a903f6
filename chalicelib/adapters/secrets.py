"""Stage secrets: the Stripe API key, the Stripe webhook signing secret and the link-signing secret.

Local and test stages use the values in their environment (devtools and the suite set them). Every other stage
reads each secret from the SSM SecureString parameter (or the Secrets Manager secret, for an `arn:` name) its
settings name, through Powertools Parameters: fetched on first use, cached `max_age` seconds (a rotation reaches
every warm container within that time), never logged. A secret with neither a value nor a parameter fails loudly
at first use (ConfigurationError: 503 CONFIGURATION_ERROR and the `ConfigurationError` metric) and never falls
back to a committed default.

Link-secret rotation: `LINK_SIGNING_SECRET_PREVIOUS_PARAMETER` names the secret being retired; links signed with
it stay valid until it is removed (keep it for as long as the longest-lived link: until the furthest appointment
booked before the rotation).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from chalicelib.domain.errors import ConfigurationError
from chalicelib.observability import count, logger

if TYPE_CHECKING:
    from chalicelib.settings import Settings

CACHE_SECONDS = 300


def fetch_parameter(name: str) -> str:
    """The decrypted value of an SSM parameter, or of a Secrets Manager secret when `name` is its ARN."""
    from aws_lambda_powertools.utilities import parameters

    if name.startswith("arn:aws:secretsmanager:"):
        return str(parameters.get_secret(name, max_age=CACHE_SECONDS))
    return str(parameters.get_parameter(name, decrypt=True, max_age=CACHE_SECONDS))


class StageSecrets:
    def __init__(self, settings: "Settings", fetch: Callable[[str], str] = fetch_parameter) -> None:
        self._settings = settings
        self._fetch = fetch

    def stripe_api_key(self) -> str:
        return self._required("STRIPE_API_KEY", self._settings.stripe_api_key,
                              self._settings.stripe_api_key_parameter)

    def stripe_webhook_secret(self) -> str:
        return self._required("STRIPE_WEBHOOK_SECRET", self._settings.stripe_webhook_secret,
                              self._settings.stripe_webhook_secret_parameter)

    def link_signing_secrets(self) -> tuple[str, ...]:
        """The current link secret first (it signs), then the one being retired (still accepted)."""
        current = self._required("LINK_SIGNING_SECRET", self._settings.link_signing_secret,
                                 self._settings.link_signing_secret_parameter)
        previous = self._settings.link_signing_secret_previous_parameter
        return (current, self._fetched("LINK_SIGNING_SECRET_PREVIOUS", previous)) if previous else (current,)

    def _required(self, name: str, value: str | None, parameter: str | None) -> str:
        if value:
            return value
        if parameter:
            return self._fetched(name, parameter)
        count("ConfigurationError")  # one metric to alarm on; the log names the secret
        logger.error("secret not configured", extra={"secret": name, "stage": self._settings.stage})
        raise ConfigurationError(details={"secret": name})

    def _fetched(self, name: str, parameter: str) -> str:
        try:
            value = self._fetch(parameter)
        except Exception as exc:  # noqa: BLE001 - any failure to read a secret is the same outage
            count("ConfigurationError")  # one metric to alarm on; the log names the secret
            logger.error("secret not readable", extra={"secret": name, "parameter": parameter,
                                                       "error": type(exc).__name__})
            raise ConfigurationError(details={"secret": name}) from None
        if not value:
            count("ConfigurationError")  # one metric to alarm on; the log names the secret
            raise ConfigurationError(details={"secret": name})
        return value
