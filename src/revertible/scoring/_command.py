"""The ``score`` command: panel -> selected divergences -> signals, summary, output file.

Two modes, one code path:

* **live** (default): the divergences *open as of the last bar* ``T``: an episode that entered
  within the horizon (``entry_time > T - horizon * bar``) and has touched no barrier yet, so its
  label is still null (``exit_reason == "open"``). They are re-measured and sized at ``T``'s
  prices (:mod:`revertible.scoring._inputs`) and form one book.
* **historical** (``since`` and/or ``until``): every divergence whose entry lies in
  ``[since, until]`` (both inclusive; a missing end is the first / last bar), labels resolved or
  not, priced at its entry bar, one book per entry bar.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..config import Config
from ..data import Panel
from ..errors import RevertibleError
from ..model import overfit_warning
from ._model import assets_note, check_model, costs_note, load_pinned, tracking_uri
from ._score import episode_features, score_episodes
from ._select import as_utc, check_request, select_rows

__all__ = ["score_panel", "score_command", "csv_quantities", "QTY_SIG_FIGS"]


def _finish(
    panel: Panel,
    model: Any,
    cfg: Config,
    rows: pd.DataFrame,
    history: pd.DataFrame,
    request: tuple[pd.Timestamp | None, pd.Timestamp | None, float],
    model_id: str,
    features: pd.DataFrame | None,
    progress: Callable[[int, int], None] | None,
    lap: Callable[[str], None] | None = None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Score and size ``rows``, order them, and describe the run."""
    since, until, capital = request
    live = since is None and until is None
    signals = score_episodes(
        panel, rows, model, cfg, history=history, model_id=model_id, capital=capital,
        book="all" if live else "entry_time", live=live, features=features, progress=progress,
        lap=lap,
    )
    if live:  # highest lower bound first: the order the book was filled in
        key = signals[["expected_return_lower", "entry_time", "asset_a", "asset_b"]]
        er = key["expected_return_lower"].to_numpy(dtype=float)
        order = np.lexsort((key["asset_b"], key["asset_a"], key["entry_time"],
                            -np.nan_to_num(er, nan=-np.inf), np.isnan(er)))  # fmt: skip
        signals = signals.iloc[order].reset_index(drop=True)
    info = {
        "mode": "live" if live else "historical",
        "as_of": panel.times[-1],
        "since": since,
        "until": until,
        "capital": capital,
        "model": model_id,
        "episodes": len(history),
        "scored": len(signals),
        "in_sample": _in_sample(signals, model),
        "stale_legs": _stale_legs(signals, panel) if live else 0,
        "costs_note": costs_note(model, cfg),
        "assets_note": assets_note(model, panel.assets),
        "overfit": overfit_warning(getattr(model, "meta", None) or {}, cfg.decision.overfit_ic),
    }
    return signals, info


def score_panel(
    panel: Panel,
    model: Any,
    cfg: Config,
    *,
    model_id: str,
    since: str | pd.Timestamp | None = None,
    until: str | pd.Timestamp | None = None,
    capital: float | None = None,
    history: pd.DataFrame | None = None,
    progress: Callable[[str], Any] | None = None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Score the open divergences as of the last bar, or those entered in ``[since, until]``.

    Returns the signals (:data:`OUTPUT_COLUMNS`; live rows by descending expected return,
    historical rows by entry time then pair) and a summary dictionary (``mode``, ``as_of``,
    ``since``, ``until``, ``capital``, ``model``, ``episodes``, ``scored``, ``in_sample``: rows
    entered before the model's holdout start, ``stale_legs``: live rows with a leg that has no
    price at the last bar, ``costs_note``: a line when the costs differ from the model's,
    ``assets_note``: one when most assets here were not in the model's training data).
    ``history`` is the episode table of ``panel``
    (:func:`revertible.episodes.build_episodes`), built here if None. ``progress`` is a factory
    like :func:`revertible.cli.progress_bar`: ``progress(description)`` returns a context manager
    yielding ``update(done, total)``.
    """
    from ..episodes import build_episodes

    bar_ctx = progress or (lambda *_a, **_k: contextlib.nullcontext(None))
    request = check_request(cfg, since, until, capital)
    # Fail before any heavy work when the model cannot use this data or config.
    check_model(model, cfg, panel.funding is not None)
    if history is None:
        with bar_ctx("episodes (pairs)") as update:
            history = build_episodes(panel, cfg, progress=update)
    rows = select_rows(history, panel.times[-1], cfg, panel.freq, request[0], request[1])
    with bar_ctx("features (pairs)") as update:
        return _finish(panel, model, cfg, rows, history, request, model_id, None, update)


def _in_sample(signals: pd.DataFrame, model: Any) -> int:
    """Rows entered before the model's holdout start: its training data (optimistic scores)."""
    start = (getattr(model, "meta", {}) or {}).get("holdout_start")
    try:
        ts = as_utc(start, "holdout_start")
    except RevertibleError:
        return 0
    return 0 if ts is None else int((signals["entry_time"] < ts).sum())


def _stale_legs(signals: pd.DataFrame, panel: Panel) -> int:
    """Live rows with a leg that has no close at the last bar (halted or delisted)."""
    if len(signals) == 0:
        return 0
    last = np.isfinite(panel.close[-1])
    ok = {a for a, has in zip(panel.assets, last, strict=True) if has}
    return int((~(signals["asset_a"].isin(ok) & signals["asset_b"].isin(ok))).sum())


# ----------------------------------------------------------------------------------------------
# the command


def _summary(signals: pd.DataFrame, info: dict[str, Any]) -> list[str]:
    traded = signals["leg_a_notional"] > 0
    n, k = len(signals), int(traded.sum())
    if info["mode"] == "live":
        head = (
            f"{n} divergences open as of {info['as_of']:%Y-%m-%d %H:%M} UTC "
            f"(of {info['episodes']} episodes), scored with {info['model']}"
        )
    else:
        lo = info["since"] if info["since"] is not None else "first bar"
        hi = info["until"] if info["until"] is not None else "last bar"
        head = (
            f"{n} divergences entered from {lo} to {hi} (of {info['episodes']} episodes), "
            f"scored with {info['model']}; one book per entry bar"
        )
    lines = [head]
    if n == 0:
        return lines
    cap = info["capital"]
    t = signals[traded]
    gross = float((t["leg_a_notional"] + t["leg_b_notional"]).sum())
    ways = signals["direction"].value_counts()
    low = signals["expected_return_lower"].to_numpy(float)
    best = float(np.nanmax(low)) * 1e4 if np.isfinite(low).any() else float("nan")
    cleared = int((signals["direction"] != "none").sum())
    lines.append(
        f"decision: {cleared} of {n} divergences clear costs ({100 * cleared / n:.1f}%); best "
        f"lower bound {best:+.1f} bp; "
        + ", ".join(f"{d} {int(ways.get(d, 0))}" for d in ("revert", "continue", "none"))
        + f"; expected net return median {signals['expected_return'].median() * 1e4:+.1f} bp"
    )
    lines.append(
        f"probability median {signals['probability'].median():.3f}, max "
        f"{signals['probability'].max():.3f}; {k} traded, {n - k} not traded; capital "
        f"{cap:,.0f}"
        + (
            f", gross notional {gross:,.0f} ({gross / cap:.2f}x), margin "
            f"{float(t['margin'].sum()):,.0f}"
            if info["mode"] == "live" and k
            else ""
        )
    )
    if info.get("overfit"):
        lines.append(info["overfit"])
    for note in ("costs_note", "assets_note"):
        if info.get(note):
            lines.append(info[note])
    if info.get("in_sample"):
        lines.append(
            f"note: {info['in_sample']} rows entered before the model's holdout start: it was "
            "trained on them, so their probabilities are in-sample (optimistic)"
        )
    if info.get("stale_legs"):
        lines.append(
            f"note: {info['stale_legs']} open divergences have a stale leg (no price at the last "
            "bar; each row's reason names the asset and how many hours behind it is): not sized"
        )
    if info["mode"] == "live" and k:
        net = float(t["net_exposure"].sum())
        lines.append(f"book net directional exposure {net:+,.0f} (long minus short notional, "
                     f"{net / cap:+.2%} of capital)")
    why = _first_reasons(signals.loc[~traded, "reason"]).value_counts().head(3)
    if len(why):
        lines.append("not traded: " + ", ".join(f"{r} ({c})" for r, c in why.items()))
    if info["mode"] == "live" and k:
        lines.append("top signals:")
        for r in t.head(5).itertuples(index=False):
            lines.append(
                f"  {r.asset_a} / {r.asset_b}  entry {r.entry_time:%m-%d %H:%M}  z {r.z_entry:+.2f}"
                f" (now {r.z_now:+.2f}, z' {r.z_prime_now:+.2f})  beta {r.beta:.3f}  {r.direction} "
                f"{r.expected_return * 1e4:+.1f} bp (lower {r.expected_return_lower * 1e4:+.1f})  "
                f"p {r.probability:.3f}  "
                f"{r.leg_a_side} {r.leg_a_qty:.6g} @ "
                f"{r.leg_a_price:.6g}  {r.leg_b_side} {r.leg_b_qty:.6g} @ {r.leg_b_price:.6g}  "
                f"lev {r.gross_leverage:.3f}x"
            )
    return lines


def _first_reasons(reason: pd.Series) -> pd.Series:
    """The kind of each reason: before the first ``;`` and ``:`` (factorised once per distinct one).

    "no direction clears costs: best lower bound -12.4 bp ..." counts as "no direction clears
    costs", whatever its numbers.
    """
    codes, uniques = pd.factorize(reason, use_na_sentinel=False)
    first = pd.Series(uniques).str.split(";").str[0].str.split(":").str[0]
    return pd.Series(first.to_numpy()[codes], index=reason.index, dtype=first.dtype)


def score_command(
    cfg: Config,
    model_uri: str,
    *,
    since: str | pd.Timestamp | None = None,
    until: str | pd.Timestamp | None = None,
    capital: float | None = None,
    out: str | os.PathLike[str] | None = None,
    console: Any = None,
    progress: Callable[[str], Any] | None = None,
    wall_clock: bool = True,
) -> pd.DataFrame:
    """Everything ``revertible score CONFIG --model URI [--since T1 --until T2] --out FILE`` does.

    Loads the data (``load_panel(cfg.data)``), resolves and loads the model from the MLflow
    store (``MLFLOW_TRACKING_URI`` or ``tracking.uri``), scores (:func:`score_panel`), writes
    ``out`` atomically as parquet or CSV by extension, and prints a short summary on ``console``.

    Parameters
    ----------
    cfg : Config
        Run config (``--data`` and ``--set`` already applied).
    model_uri : str
        ``runs:/<id>/model``, ``models:/<name>/<version>``, ``models:/<name>@champion`` or a
        model folder; an alias is pinned to its version (the ``model`` column).
    since, until : str or pandas.Timestamp, optional
        Historical range of entry times (UTC if naive); both None: live.
    capital : float, optional
        Account equity (``--capital``); ``cfg.sizing.capital`` if None.
    out : path, optional
        ``.parquet`` / ``.pq`` / ``.csv``; nothing written if None. The extension is checked
        before any work.
    console : rich.console.Console, optional
        Where the summary goes.
    progress : callable, optional
        ``progress(description)`` -> context manager yielding ``update(done, total)``.
    wall_clock : bool
        Live scoring compares the data's end with the wall clock (stale data); False skips that
        one check, for data with no live market (a generated market: the demo).

    Returns
    -------
    pandas.DataFrame
        The signals (:data:`OUTPUT_COLUMNS`).

    Raises
    ------
    RevertibleError
        Bad output path or extension, bad times or capital, data errors; ``ModelError`` when the
        model cannot be loaded or cannot use this data.
    """
    from ..data import load_panel
    from ..episodes import build_episodes
    from ..io import write_table

    def say(msg: str) -> None:
        if console is not None:
            console.print(msg, markup=False, highlight=False)

    if out is not None:
        dest = Path(out)
        if dest.suffix.lower() not in {".parquet", ".pq", ".csv"}:
            raise RevertibleError(
                f"output file {dest}: unknown extension {dest.suffix!r}; use .parquet or .csv"
            )
        if not dest.parent.exists():
            raise RevertibleError(
                f"output folder {dest.parent} does not exist: create it or choose another --out"
            )
    request = check_request(cfg, since, until, capital)
    live = request[0] is None and request[1] is None
    bar_ctx = progress or (lambda *_a, **_k: contextlib.nullcontext(None))
    clock = _Clock()
    # The model (MLflow, LightGBM and scikit-learn imports, the registry, unpickling: mostly
    # Python holding the GIL) loads in a worker thread while this thread reads the data and
    # runs the compiled episode and (live) feature kernels; a loading error surfaces at
    # ``result()``. Historical features are many: they wait for the model check instead.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="revertible-model") as pool:
        loading = pool.submit(load_pinned, model_uri, tracking_uri(cfg))
        try:
            with bar_ctx("loading data") as update:
                panel = load_panel(cfg.data, progress=update)
            clock.lap("data")
            with bar_ctx("episodes (pairs)") as update:
                history = build_episodes(panel, cfg, progress=update)
            rows = select_rows(history, panel.times[-1], cfg, panel.freq, request[0],
                               request[1]).reset_index(drop=True)  # fmt: skip
            clock.lap("episodes")
            feats = None
            if live:
                with bar_ctx("features (pairs)") as update:
                    feats = episode_features(panel, rows, cfg, history=history, progress=update)
                clock.lap("features")
        except BaseException:
            loading.cancel()
            raise
        pinned, model = loading.result()
        clock.lap("waiting for the model")
    check_model(model, cfg, panel.funding is not None, feats)
    from ..live import freshness_check, panel_last_bars

    # its findings are logged as warnings (the CLI prints them once; paper reads the same log)
    freshness_check(cfg.scoring, last_bar=panel.times[-1], model_meta=getattr(model, "meta", None),
                    asset_last_bars=panel_last_bars(panel) if live else None, step=panel.freq,
                    now=pd.Timestamp.now(tz="UTC") if live and wall_clock else None)
    with bar_ctx("features (pairs)") as update:
        signals, info = _finish(panel, model, cfg, rows, history, request, pinned, feats, update,
                                clock.lap)
    for line in _summary(signals, info):
        say(line)
    if out is not None:
        csv = Path(out).suffix.lower() == ".csv"
        write_table(csv_quantities(signals, cfg.sizing.qty_step) if csv else signals, out)
        say(f"wrote {len(signals)} rows to {out}")
        if csv and cfg.sizing.qty_step == 0 and len(signals):
            say(f"quantities in {Path(out).name}: {QTY_SIG_FIGS} significant figures, rounded "
                "toward zero (sizing.qty_step = 0: no lot step); notionals as sized; set "
                "sizing.qty_step to the venue's lot step to size in whole lots")
    clock.lap("writing")
    say(f"time: {clock}")
    return signals


#: Significant figures of ``leg_*_qty`` in a CSV output when there is no lot step.
QTY_SIG_FIGS = 6


def csv_quantities(signals: pd.DataFrame, qty_step: float,
                   sig_figs: int = QTY_SIG_FIGS) -> pd.DataFrame:
    """The signals with ``leg_a_qty`` / ``leg_b_qty`` as a person would write them (CSV only).

    With a lot step (``sizing.qty_step > 0``) the sizing already rounded every quantity down to
    a whole number of steps; here only the float noise goes (``0.30000000000000004`` is written
    ``0.3``: rounded to the step's decimals). Without one (``qty_step = 0``, the default), the
    quantity is ``notional / price`` to 17 digits; it is cut to ``sig_figs`` significant figures
    *toward zero*, so ``qty * price`` never exceeds the sized notional (by at most a relative
    ``10**(1 - sig_figs)`` less). The notionals, prices and the returned or parquet signals are
    never changed: this is an output format, not a sizing rule (that is ``decision/``).

    Examples
    --------
    >>> df = pd.DataFrame({"leg_a_qty": [0.123456789, 0.0], "leg_b_qty": [98765.4321, 2.0]})
    >>> csv_quantities(df, 0.0).to_dict("list")
    {'leg_a_qty': [0.123456, 0.0], 'leg_b_qty': [98765.4, 2.0]}
    >>> noisy = pd.DataFrame({"leg_a_qty": [0.1 + 0.2], "leg_b_qty": [7.0]})
    >>> csv_quantities(noisy, 0.1).to_dict("list")
    {'leg_a_qty': [0.3], 'leg_b_qty': [7.0]}
    """
    from decimal import Decimal

    out = signals.copy()
    for col in ("leg_a_qty", "leg_b_qty"):
        if col not in out:
            continue
        q = out[col].to_numpy(dtype=float)
        if qty_step > 0:
            decimals = max(0, -int(Decimal(str(qty_step)).normalize().as_tuple().exponent))
            out[col] = np.round(q, decimals)
            continue
        with np.errstate(divide="ignore", invalid="ignore"):
            mag = np.floor(np.log10(np.abs(q)))
            digits = np.where(np.isfinite(mag) & (q != 0), sig_figs - 1 - mag, 0.0)
            scale = 10.0 ** digits
            # the 1e-12 keeps an exact value (0.3 * 10 = 2.9999999999999996) from losing a digit
            cut = np.trunc(q * scale * (1.0 + 1e-12)) / scale
        out[col] = np.where(np.isfinite(q) & (q != 0), cut, q)
    return out


class _Clock:
    """Wall-clock laps for the command's one-line timing summary."""

    def __init__(self) -> None:
        self.start = self.last = time.perf_counter()
        self.laps: list[tuple[str, float]] = []

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps.append((name, now - self.last))
        self.last = now

    def __str__(self) -> str:
        parts = [f"{name} {secs:.1f}s" for name, secs in self.laps if secs >= 0.05]
        return ", ".join([*parts, f"total {self.last - self.start:.1f}s"])
