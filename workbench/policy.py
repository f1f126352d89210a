"""Policies: the parameters a run uses, and their proposal and approval (four eyes)."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass


@dataclass(frozen=True)
class PolicyParams:
    """The parameters of selection, decisions and posting; amounts are integer centimes."""

    debit_threshold: int = 500
    credit_threshold: int = 500
    min_days_overdue: int = 30
    rounding_step: int = 5
    write_off_limit: int = 0
    currency: str = "CHF"
    ar_account: str = "1100"
    transit_account: str = "1091"
    loss_account: str = "3805"
    rounding_account: str = "3806"
    charge_code: str = "SOLDE"
    vat_code: str = "0"
    line_mode: str = "item"  # "item": one charge line per open item; "group": one per group
    # A run whose absolute cleared total stays within this limit may post without a second
    # person; 0 always requires four eyes.
    auto_post_limit: int = 0

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "PolicyParams":
        known = {field.name for field in dataclasses.fields(cls)}
        return cls(**{key: value for key, value in json.loads(text).items() if key in known})

    def replace(self, **changes) -> "PolicyParams":
        return dataclasses.replace(self, **changes)
