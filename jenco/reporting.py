import re

from django.views.debug import SafeExceptionReporterFilter


class SecretsFilter(SafeExceptionReporterFilter):
    """Error reports (the debug page, mail to ADMINS) hide what Django's filter leaves: the
    CSRF secret in request.META, and anything named like a PIN or a token."""

    hidden_settings = re.compile(
        "API|TOKEN|KEY|SECRET|PASS|SIGNATURE|HTTP_COOKIE|CSRF|PIN", flags=re.IGNORECASE
    )
