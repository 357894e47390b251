"""Asset -> sector maps: a small default for the shared Binance data, and their validation.

The default (:data:`DEFAULT_SECTORS`) is a hand-made, coarse, point-of-view map (an asset belongs to
one sector). A user map (config ``baskets.sectors``) replaces it and must only name assets present
in the data; the default is silently restricted to the assets present.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

__all__ = ["DEFAULT_SECTORS", "sector_map", "sector_assets"]

_BY_SECTOR: dict[str, tuple[str, ...]] = {
    "l1": ("BTC", "ETH", "SOL", "AVAX", "NEAR", "APT", "SUI", "SEI", "ATOM", "EGLD", "FTM",
           "ICP", "HBAR", "TON", "TRX", "XRP", "LTC", "BCH", "ETC", "TIA", "INJ", "ADA", "BNB"),
    "l2": ("ARB", "OP", "MATIC", "STRK", "ZK", "STX"),
    "memecoins": ("DOGE", "SHIB", "PEPE", "BONK", "FLOKI", "WIF", "BOME", "PEOPLE", "1000SATS",
                  "ORDI", "DOGS", "NOT"),
    "ai": ("FET", "RENDER", "TAO", "WLD", "ARKM", "IO", "PHB", "CTXC"),
    "defi": ("AAVE", "UNI", "CRV", "LDO", "MKR", "PENDLE", "DYDX", "1INCH", "RUNE", "ENA",
             "ETHFI", "JTO", "DEXE", "RDNT", "STG", "PERP", "SUN", "ZRO"),
    "exchange": ("CAKE", "BSW", "BURGER"),
    "fan_tokens": ("ASR", "JUV", "LAZIO", "PORTO", "PSG", "SANTOS", "ALPINE", "OG"),
    "gaming": ("GALA", "APE", "YGG", "PYR", "GMT"),
    "stablecoins": ("EURI",),
}

#: Default asset -> sector map (``BASE/USDT`` names), for the shared data.
DEFAULT_SECTORS: dict[str, str] = {
    f"{base}/USDT": sector for sector, bases in _BY_SECTOR.items() for base in bases
}


def sector_map(
    assets: Iterable[str], sectors: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The asset -> sector map in force for ``assets``.

    Parameters
    ----------
    assets : iterable of str
        Assets of the panel.
    sectors : mapping, optional
        A user map (config ``baskets.sectors``); default :data:`DEFAULT_SECTORS` restricted to
        ``assets``.

    Raises
    ------
    ConfigError
        The user map names an asset that is not in the data.

    Examples
    --------
    >>> sector_map(["BTC/USDT", "XYZ/USDT"])
    {'BTC/USDT': 'l1'}
    """
    present = list(assets)
    known = set(present)
    if sectors is None:
        return {a: DEFAULT_SECTORS[a] for a in present if a in DEFAULT_SECTORS}
    unknown = sorted(a for a in sectors if a not in known)
    if unknown:
        raise ConfigError(
            f"baskets.sectors names {len(unknown)} asset(s) not in the data: "
            f"{', '.join(unknown[:5])}{' ...' if len(unknown) > 5 else ''}; "
            "use names as in the data (e.g. 'BTC/USDT') or remove them"
        )
    return dict(sectors)


def sector_assets(mapping: Mapping[str, str], sector: str) -> list[str]:
    """Assets of ``sector`` in ``mapping`` (sorted); ConfigError naming the known sectors."""
    members = sorted(a for a, s in mapping.items() if s == sector)
    if not members:
        names = sorted(set(mapping.values()))
        raise ConfigError(
            f"--sector {sector!r}: no asset of the data is in that sector; known sectors: "
            f"{', '.join(names) or '(none)'}"
        )
    return members
