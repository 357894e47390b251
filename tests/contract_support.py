"""The output column lists of docs/design.md ("Output columns"), for the tests that pin them.

Each list is written out here, in the order the contract gives, so a change of a column's name or
place in the code fails a test until the contract, this list and the code agree.
:func:`assert_documented_in_order` holds each list to docs/design.md's paragraph.
"""

from __future__ import annotations

import re
from pathlib import Path

DESIGN = Path(__file__).resolve().parents[1] / "docs" / "design.md"

#: ``revertible episodes --out``: docs/design.md "**Episodes**", in order.
EPISODE_FILE_COLUMNS = [
    "asset_a", "asset_b", "entry_time", "z_entry", "beta", "spread_mean", "spread_std", "label",
    "exit_time", "exit_reason", "bars_held", "revert_return", "continue_return", "corr_entry",
    "revert_leg_a", "revert_leg_b", "continue_leg_a", "continue_leg_b",
]  # fmt: skip

#: ``revertible score --out``: docs/design.md "**Signals**" (``SIGNAL_COLUMNS``), in order.
SIGNAL_FILE_COLUMNS = [
    "asset_a", "asset_b", "entry_time", "z_entry", "beta", "probability", "direction",
    "expected_return", "expected_return_lower", "reason", "model",
    "leg_a_side", "leg_a_notional", "leg_a_qty", "leg_a_price",
    "leg_b_side", "leg_b_notional", "leg_b_qty", "leg_b_price",
    "gross_leverage", "take_profit_z", "stop_z", "time_stop", "min_abs_corr",
]  # fmt: skip

#: Then the transparency columns (``EXTRA_COLUMNS``), in order.
SIGNAL_EXTRA_COLUMNS = [
    "spread_mean", "spread_std", "z_now", "z_prime_now", "priced_at", "net_exposure",
    "score_quantile", "revert_expected", "revert_lower", "continue_expected", "continue_lower",
    "bet_size", "margin", "leg_a_leverage", "leg_b_leverage", "leg_a_liq_price",
    "leg_b_liq_price", "direction_if_taken", "leg_a_side_if_taken", "leg_a_notional_if_taken",
    "leg_a_qty_if_taken", "leg_b_side_if_taken", "leg_b_notional_if_taken",
    "leg_b_qty_if_taken", "gross_leverage_if_taken", "label", "exit_reason",
]  # fmt: skip


def design_paragraph(head: str) -> str:
    """The paragraph of docs/design.md that starts with ``**head**`` (up to the blank line)."""
    text = DESIGN.read_text()
    start = text.index(f"**{head}**")
    end = text.find("\n\n", start)
    return text[start:] if end < 0 else text[start:end]


def assert_documented_in_order(columns: list[str], head: str, implied: set[str] = frozenset()):
    """Every column is named (in backticks) in the ``head`` paragraph, in this order.

    ``implied`` are the columns the paragraph names only through a phrase ("the same four for
    ``leg_b``"); they are skipped. The order is that of each column's first mention.
    """
    para = design_paragraph(head)
    named = list(dict.fromkeys(re.findall(r"`([a-z][a-z0-9_]*)`", para)))
    missing = [c for c in columns if c not in named and c not in implied]
    assert missing == [], f"columns docs/design.md's {head} paragraph does not name: {missing}"
    shown = [c for c in columns if c in named]
    order = sorted(shown, key=named.index)
    assert shown == order, f"docs/design.md's {head} paragraph gives another order: {order}"
