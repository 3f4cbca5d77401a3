"""gunicorn's logger with the secrets of emailed links redacted (``mindomo.redaction``).

Named by ``logger_class`` in ``mindomo/gunicorn.conf.py``: the access log's request line, path, query string
and ``Referer``, and the error log's messages and tracebacks, go through the same ``redact`` as Django's logs.
"""

from __future__ import annotations

from typing import Any

from gunicorn.glogging import Logger

from mindomo.redaction import RedactSecretsFilter

_FILTER = RedactSecretsFilter()


class RedactingLogger(Logger):
    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            if _FILTER not in log.filters:
                log.addFilter(_FILTER)
