"""``revertible demo`` options: a market the generator cannot make is one line, not a traceback."""

from __future__ import annotations

import pytest
from conftest import one_line_error

from .support import run


@pytest.mark.parametrize(("args", "needle"), [
    (["--n-assets", "1"], "--n-assets 1: the generated market needs at least 3 assets"),
    (["--n-assets", "2"], "--n-assets 2: the generated market needs at least 3 assets"),
    (["--days", "1"], "--days 1: the generated market needs at least 2 days"),
])
def test_a_market_too_small_to_generate_is_refused_in_one_line(tmp_path, args, needle):
    # they ended in the generator's ValueError with a traceback, after creating --out
    res = run("demo", "--out", tmp_path / "d", *args)
    one_line_error(res, needle)
    assert not (tmp_path / "d").exists()
