"""The feature columns: names, families and one-line definitions, as a function of the config.

Window lengths and lags that appear in column names (``spread_z_168``, ``corr_30d``,
``z_velocity_6``, ...) come from :class:`revertible.config.FeatureConfig`;
:data:`FEATURE_GROUPS` and :data:`FEATURE_DESCRIPTIONS` are the columns under the default config.
"""

from __future__ import annotations

from ..config import Config, FeatureConfig
from ._models import MODEL_FEATURES
from ._triggers import TRIGGER_FEATURES

__all__ = [
    "FEATURE_GROUPS",
    "FEATURE_DESCRIPTIONS",
    "feature_groups",
    "feature_descriptions",
    "feature_names",
]


def _spec(fc: FeatureConfig) -> tuple[tuple[str, str, str], ...]:
    """(family, column, definition) of every feature column, in output order."""
    sb = fc.short_bars
    cs = fc.corr_short_days
    c0 = fc.corr_days[0]
    k1 = fc.flow_lags[1]
    fe = fc.funding_events
    return (
        ("divergence", "abs_z_entry", "|z| at entry"),
        *(
            ("divergence", f"z_velocity_{k}", f"sign(z_t) * (z_t - z_(t-{k})) / {k}: > 0 diverging")
            for k in fc.z_lags
        ),
        ("divergence", "bars_since_prev_episode",
         "bars from the pair's previous entry; NaN if none"),
        ("spread", "spread_z_long", "sign(z_t) * (s_t - mean) / std of s over the trailing window"),
        ("spread", f"spread_z_{sb}", f"as spread_z_long over the last {sb} bars"),
        ("spread", "spread_dvol_long", "std of one-bar spread changes (log units) over the window"),
        ("spread", "spread_dvol_ratio", f"std of spread changes, last {sb} bars / window"),
        ("spread", "spread_std_to_dvol", "entry spread_std (z window) / spread_dvol_long"),
        ("spread", "spread_ar1_long", "AR(1) slope of s_j on s_(j-1) (with intercept), window"),
        ("spread", f"spread_ar1_{sb}", f"AR(1) slope over the last {sb} bars"),
        ("spread", "spread_half_life_long", "-ln 2 / ln(ar1), clipped; NaN if ar1 >= 1"),
        ("spread", f"spread_half_life_{sb}", f"half-life from spread_ar1_{sb}"),
        ("spread", "spread_adf_t_long", "ADF t-stat of rho in ds_j = alpha + rho s_(j-1) + e"),
        ("spread", f"spread_adf_t_{sb}", f"ADF t-stat over the last {sb} bars"),
        *(
            ("spread", f"spread_vr{q}_long",
             f"variance ratio VR({q}) of the spread over the window")
            for q in fc.vr_lags
        ),
        ("relationship", f"corr_{cs}d", f"{cs}-day return correlation"),
        *(("relationship", f"corr_{d}d", f"{d}-day return correlation") for d in fc.corr_days),
        (
            "relationship",
            f"corr_shift_{cs}d",
            f"sign(corr_{c0}d) * (corr_{cs}d - corr_{c0}d): < 0 weakening",
        ),
        ("relationship", "beta_entry", "hedge ratio at entry"),
        ("relationship", f"beta_std_{sb}", f"std of beta_j over the last {sb} bars"),
        ("relationship", f"beta_change_{sb}", f"beta_t - beta_(t-{sb})"),
        ("relationship", "relationship_sign", f"sign of corr_{c0}d (+1 / -1)"),
        ("regime", "vol_ratio_a", "leg A return std, short window / long window"),
        ("regime", "vol_ratio_b", "leg B return std, short window / long window"),
        ("regime", "spikes_a",
         "leg A bars in the short window with |r_j| > spike_sigma * vol_(j-1)"),
        ("regime", "spikes_b", "leg B spike count, same rule"),
        ("regime", "mkt_vol_ratio", "cross-sectional median of vol_ratio over the panel's assets"),
        ("regime", "mkt_dispersion", "cross-sectional std of short-window log returns"),
        ("liquidity", "qv_ratio_a", "leg A mean quote volume, short window / long window"),
        ("liquidity", "qv_ratio_b", "leg B mean quote volume, short window / long window"),
        ("liquidity", "log_qv_a", "log(1 + leg A quote volume over the short window)"),
        ("liquidity", "log_qv_b", "log(1 + leg B quote volume over the short window)"),
        ("liquidity", "log_qv_min", "min of log_qv_a and log_qv_b"),
        ("funding", "funding_diff",
         f"latest funding rate of A minus B (each at most {fc.funding_max_age_hours} h old)"),
        ("funding", f"funding_diff_mean{fe}", f"mean of A's last {fe} funding rates minus B's"),
        ("funding", "funding_carry", "sign(z_t) * (f_A - beta * f_B): funding the trade receives"),
        *(
            (
                "flow",
                f"move_{leg}_{k}",
                f"leg {leg.upper()}'s share of the last {k}-bar spread move, in entry-std units "
                "(> 0: that leg moved in the divergence direction)",
            )
            for k in fc.flow_lags
            for leg in ("a", "b")
        ),
        *(
            ("flow", f"idio_{leg}_{k1}",
             f"sign(z) * (leg {leg.upper()}'s {k1}-bar log return - cross-sectional median)")
            for leg in ("a", "b")
        ),
        *(
            ("flow", f"breadth_new_{leg}",
             f"share of other assets whose pair with leg {leg.upper()} entered an episode in the "
             f"last {k1} bars (a one-asset story when high)")
            for leg in ("a", "b")
        ),
        *(
            ("flow", f"breadth_active_{leg}",
             f"share of other assets whose pair with leg {leg.upper()} is in an episode now")
            for leg in ("a", "b")
        ),
        ("flow", "mkt_breadth_active", "share of all pairs in an episode now"),
        ("calendar", "hour", "UTC hour of the entry bar's open"),
        ("calendar", "dow", "day of week of the entry bar (Monday 0)"),
        ("history", "pair_n_prev", "episodes of the pair entered before this entry"),
        ("history", "pair_n_resolved", "of those, episodes whose label was settled by this entry"),
        ("history", "pair_revert_rate", "reversion rate of the settled ones; NaN if none"),
        (
            "history",
            "pair_revert_rate_shrunk",
            "(reverted + m * prior) / (settled + m), prior: all pairs' rate settled by this entry",
        ),
    )


def _as_features(cfg: Config | FeatureConfig | None) -> FeatureConfig:
    if cfg is None:
        return FeatureConfig()
    return cfg if isinstance(cfg, FeatureConfig) else cfg.features


def feature_groups(cfg: Config | FeatureConfig | None = None) -> dict[str, list[str]]:
    """Feature columns by family, in the order :func:`build_features` returns them.

    Every family is listed, ``funding`` included whatever ``use_funding`` says; ``None``: the
    default config.
    """
    spec = _spec(_as_features(cfg))
    return {
        group: [name for g, name, _ in spec if g == group]
        for group in dict.fromkeys(g for g, *_ in spec)
    }


def feature_descriptions(cfg: Config | FeatureConfig | None = None) -> dict[str, str]:
    """One line per feature column (``None``: the default config)."""
    return {name: text for _, name, text in _spec(_as_features(cfg))}


#: Feature columns by family under the default config, in output order.
FEATURE_GROUPS: dict[str, list[str]] = feature_groups()
#: One line per feature column under the default config.
FEATURE_DESCRIPTIONS: dict[str, str] = feature_descriptions()


def feature_names(cfg: Config) -> list[str]:
    """Columns of :func:`build_features` under ``cfg``, in a stable order.

    ``cfg.features.use_funding = False`` drops the ``funding`` group.

    Examples
    --------
    >>> from revertible.config import config_from_mapping
    >>> cfg = config_from_mapping({"data": {"path": "."}, "features": {"use_funding": False}})
    >>> names = feature_names(cfg)
    >>> names[0], "funding_diff" in names
    ('abs_z_entry', False)
    """
    return [
        n
        for g, names in feature_groups(cfg).items()
        if g != "funding" or cfg.features.use_funding
        for n in names
    ] + (list(TRIGGER_FEATURES) if cfg.features.use_regime else []) + (
        list(MODEL_FEATURES) if cfg.features.use_spread_models else [])
