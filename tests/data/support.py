"""Generated bar files in every supported format, shared by the data tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from revertible.config import DataConfig

START = pd.Timestamp("2024-01-01", tz="UTC")


HOUR = pd.Timedelta(hours=1)


FIELDS = ("open", "high", "low", "close", "volume")


def make_bars(
    rng: np.random.Generator,
    n: int = 48,
    start: pd.Timestamp = START,
    freq: pd.Timedelta = HOUR,
    price: float = 100.0,
) -> pd.DataFrame:
    """A valid OHLCV frame: random-walk close, open = previous close, UTC-aware dates."""
    close = price * np.exp(np.cumsum(rng.normal(0.0, 0.01, n)))
    open_ = np.r_[price, close[:-1]]
    return pd.DataFrame(
        {
            "date": pd.date_range(start, periods=n, freq=freq, unit="ns"),
            "open": open_,
            "high": np.maximum(open_, close) * (1 + rng.uniform(0, 0.005, n)),
            "low": np.minimum(open_, close) * (1 - rng.uniform(0, 0.005, n)),
            "close": close,
            "volume": rng.uniform(1.0, 10.0, n).round(6),
        }
    )


def fname(asset: str, fmt: str, tf: str = "1h") -> str:
    base, quote = asset.split("/")
    if fmt == "cdd":
        return f"Binance_{base}{quote}_{tf}.csv"
    ext = {"csv_iso": "csv", "csv_ms": "csv", "csv_s": "csv"}.get(fmt, fmt)
    return f"{base}_{quote}-{tf}.{ext}"


def write(df: pd.DataFrame, folder: Path, asset: str, fmt: str, tf: str = "1h") -> Path:
    """Write ``df`` in one of the supported layouts; return the path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / fname(asset, fmt, tf)
    if fmt == "feather":
        df.to_feather(path)
    elif fmt == "parquet":
        df.to_parquet(path, index=False)
    elif fmt == "csv_iso":
        out = df.assign(date=df["date"].dt.strftime("%Y-%m-%dT%H:%M:%SZ"))
        out.to_csv(path, index=False)
    elif fmt in ("csv_ms", "csv_s"):
        div = 10**6 if fmt == "csv_ms" else 10**9
        epoch = df["date"].dt.as_unit("ns").astype("int64") // div
        df.drop(columns="date").assign(timestamp=epoch).to_csv(path, index=False)
    elif fmt == "cdd":  # CryptoDataDownload: URL line, newest first, Unix ms + naive Date
        base, quote = asset.split("/")
        out = pd.DataFrame(
            {
                "Unix": df["date"].dt.as_unit("ns").astype("int64") // 10**6,
                "Date": df["date"].dt.strftime("%Y-%m-%d %H:%M:%S"),
                "Symbol": base + quote,
                "Open": df["open"],
                "High": df["high"],
                "Low": df["low"],
                "Close": df["close"],
                f"Volume {base}": df["volume"],
                f"Volume {quote}": (df["volume"] * df["close"] * 1.01).round(4),
                "tradecount": 7,
            }
        ).iloc[::-1]
        path.write_text("https://www.CryptoDataDownload.com\n" + out.to_csv(index=False))
    else:  # pragma: no cover
        raise ValueError(fmt)
    return path


def cfg_for(folder: Path, **kw) -> DataConfig:
    return DataConfig(path=folder, **kw)


def bad_file(tmp_path: Path, df: pd.DataFrame, fmt: str = "feather", **kw) -> DataConfig:
    write(df, tmp_path, "BTC/USDT", fmt)
    return cfg_for(tmp_path, **kw)
