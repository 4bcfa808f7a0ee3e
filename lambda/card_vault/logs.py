"""Logging that cannot leak a card number (PCI DSS v4.0.1 3.3, 3.4.1, 10.2).

`vault_logger()` is a Powertools Logger (JSON, one line per record) whose formatter passes the
finished line (message, extra keys, exception and stack text included) through `mask_pans`.
`PanMaskingFilter` does the same for plain `logging` handlers (libraries' loggers, the local
server). These are the last line of defence: the code never logs card data on purpose.
Traces are kept clean by `card_vault.tracing.traced` (no data recorded), not by masking.
"""

from __future__ import annotations

import logging
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

from card_vault.pan import mask_pans

SERVICE = "card-vault"


class MaskingFormatter(LambdaPowertoolsFormatter):
    """Powertools' JSON formatter, with every Luhn-valid 13-19 digit run masked in the output."""

    def format(self, record: logging.LogRecord) -> str:
        return mask_pans(super().format(record))


class PanMaskingFilter(logging.Filter):
    """Masks card numbers in a record's message, arguments and exception text before any handler formats it."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = mask_pans(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_pans(record.exc_text)
        record.exc_info = None if record.exc_text else record.exc_info
        return True


def vault_logger(**kwargs: Any) -> Logger:
    """The service's Logger; keyword arguments go to Powertools' Logger."""
    return Logger(service=SERVICE, logger_formatter=MaskingFormatter(), **kwargs)


def install_root_filter() -> None:
    """Mask card numbers in every handler of the root logger (libraries log through it)."""
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, PanMaskingFilter) for f in handler.filters):
            handler.addFilter(PanMaskingFilter())
