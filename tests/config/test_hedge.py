"""The ``hedge`` config section is typed and checked."""

from __future__ import annotations

from pathlib import Path

import pytest


def test_hedge_config_section_is_typed_and_checked(tmp_path):
    from revertible.config import load_config
    from revertible.errors import ConfigError

    p = tmp_path / "c.yaml"
    p.write_text("data: {path: /tmp}\nhedge: {leverage: 5}\n")
    cfg = load_config(p, ["hedge.unwind=true"])
    assert cfg.hedge.leverage == 5.0 and cfg.hedge.unwind is True
    assert cfg.hedge.unwind_funding == 0.0001  # the source's 0.01% per 8 h
    p.write_text("data: {path: /tmp}\nhedge: {levrage: 5}\n")
    with pytest.raises(ConfigError, match="did you mean 'hedge.leverage'"):
        load_config(p)
    with pytest.raises(ConfigError, match="hedge.maintenance_margin_rate"):
        load_config(_write(tmp_path, "hedge: {maintenance_margin_rate: 1.5}"))


def _write(tmp_path: Path, extra: str) -> Path:
    p = tmp_path / "x.yaml"
    p.write_text(f"data: {{path: /tmp}}\n{extra}\n")
    return p
