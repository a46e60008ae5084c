"""Money: amounts keep their currency; conversion to the reporting currency uses the
configured rates (`[currency] rates`, reporting units per unit). A missing amount or a
currency without a rate converts to None, so callers count it as unconverted instead of
treating it as zero."""

from __future__ import annotations

from decimal import Decimal

from metrics.config import CurrencyConfig

CENT = Decimal("0.01")


def to_reporting(
    amount: Decimal | None, currency: str | None, cfg: CurrencyConfig
) -> Decimal | None:
    """`amount` in the reporting currency; None when it is missing or has no rate. A missing
    currency is taken as the reporting currency."""
    if amount is None:
        return None
    code = (currency or cfg.reporting).upper()
    if code == cfg.reporting:
        return amount.quantize(CENT)
    rate = cfg.rates.get(code)
    if rate is None:
        return None
    return (amount * Decimal(str(rate))).quantize(CENT)
