"""``model.check_out_of_sample``: a forward record may not start inside the training data."""

from __future__ import annotations

import pandas as pd
import pytest

from revertible.errors import RevertibleError
from revertible.model import check_out_of_sample, forward_start

H = pd.Timedelta(hours=1)
END = pd.Timestamp("2024-05-12 22:00", tz="UTC")


def test_the_boundary_is_the_last_training_divergence():
    meta = {"trained_until": str(END)}
    with pytest.raises(RevertibleError, match="entered up to 2024-05-12 22:00 UTC") as e:
        check_out_of_sample(END, meta, "--since", H)  # the last training divergence itself
    assert "(--since 2024-05-12 23:00)" in str(e.value) and "\n" not in str(e.value)
    check_out_of_sample(END + H, meta, "--since", H)  # one bar later: out of sample
    # a naive stored time is UTC; no start (the default) or no stored end: nothing to check
    with pytest.raises(RevertibleError):
        check_out_of_sample(END, {"trained_until": "2024-05-12 22:00:00"}, "--since", H)
    check_out_of_sample(None, meta, "--since", H)
    check_out_of_sample(END - 30 * H, {}, "--since", H)
    check_out_of_sample(END - 30 * H, {"trained_until": "NaT"}, "--since", H)


def test_a_model_with_a_holdout_start_is_checked_against_it():
    # its development labels end before the holdout start; the divergences entered between its
    # last one (trained_until) and the holdout start were purged, their labels straddling it
    meta = {"trained_until": str(END), "holdout_start": "2024-05-14 20:00:00+00:00"}
    first = pd.Timestamp("2024-05-14 20:00", tz="UTC")
    assert forward_start(meta) == first
    with pytest.raises(RevertibleError, match="saw labels .* up to 2024-05-14 20:00 UTC") as e:
        check_out_of_sample(END + H, meta, "--since", H)  # inside the purged gap
    assert "(--since 2024-05-14 20:00)" in str(e.value) and "\n" not in str(e.value)
    check_out_of_sample(first, meta, "--since", H)  # from the holdout start: out of sample
    # a walk-forward block's latest label end comes first; naive times are UTC
    assert forward_start({**meta, "label_cutoff": "2024-05-13 05:00"}) == pd.Timestamp(
        "2024-05-13 05:00", tz="UTC")
    assert forward_start({"trained_until": str(END)}) is None
