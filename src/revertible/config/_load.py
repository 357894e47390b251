"""Loading a config: YAML, ``--set`` overrides and environment variables -> :class:`Config`.

``--set dotted.key=value`` overrides are applied to the raw mapping before validation, so they are
checked by the same rules as the file. Under ``tuning.space`` an override *merges*: ``--set
tuning.space.num_leaves={type: int, low: 7, high: 63}`` replaces (or adds) that one dimension of
the search space the file gives (or of the default space), ``--set
tuning.space.learning_rate.high=0.3`` changes one bound, ``--set tuning.space.max_depth=null``
drops a dimension; ``--set tuning.space={...}`` replaces the whole space.

String values may reference environment variables as ``${NAME}`` or ``${NAME:-default}``; the
shipped configs use ``${REVERTIBLE_DATA:-../shared/data}`` so tests and CI can point at the data.
"""

from __future__ import annotations

import difflib
import json
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from ..errors import ConfigError
from ._schema import Config, _default_space
from ._strategy_search import default_strategy_space

__all__ = ["config_from_mapping", "load_config", "apply_overrides", "flatten", "override_text"]

_SPACE = "tuning.space."
_SPACES = {_SPACE: _default_space, "tuning.strategy.space.": default_strategy_space}
"""Dict fields whose ``--set X.<dim>`` overrides merge into the file's (or default) space."""

_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def _expand_env(value: Any, source: str = "<mapping>", key: str = "") -> Any:
    """Substitute ``${NAME}`` / ``${NAME:-default}``; an unset NAME without default is an error."""
    if isinstance(value, str):
        def sub(m: re.Match[str]) -> str:
            got = os.environ.get(m.group(1))
            if got:
                return got
            if m.group(2) is None:
                raise ConfigError(
                    f"config {source}: key {key!r} uses ${{{m.group(1)}}} but environment "
                    f"variable {m.group(1)} is not set; export it or write "
                    f"${{{m.group(1)}:-default}}"
                )
            return m.group(2)

        return _ENV.sub(sub, value)
    if isinstance(value, dict):
        return {k: _expand_env(v, source, f"{key}.{k}" if key else str(k))
                for k, v in value.items()}
    if isinstance(value, list):
        return [_expand_env(v, source, f"{key}[{i}]") for i, v in enumerate(value)]
    return value


class _UniqueKeyLoader(yaml.SafeLoader):
    """A ``yaml.SafeLoader`` that refuses a key given twice in a mapping (YAML keeps the last)."""


def _unique_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        line = key_node.start_mark.line + 1
        if isinstance(key, (str, int, float, bool)) and key in seen:
            raise ConfigError(
                f"line {line}: key {key!r} is given twice (first on line {seen[key]}); YAML "
                "would silently keep the last one: keep one of them"
            )
        if isinstance(key, (str, int, float, bool)):
            seen[key] = line
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _unique_mapping)


def _known_keys(model: type[BaseModel], prefix: str = "") -> list[str]:
    keys = []
    for name, field in model.model_fields.items():
        name = field.alias or name
        keys.append(prefix + name)
        ann = field.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            keys.extend(_known_keys(ann, prefix + name + "."))
    return keys


def apply_overrides(raw: dict[str, Any], overrides: Iterable[str]) -> dict[str, Any]:
    """Apply ``dotted.key=value`` overrides to a raw config mapping (values parsed as YAML)."""
    out = _deepcopy(raw)
    known = _known_keys(Config)
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r} is not of the form dotted.key=value")
        key, _, text = item.partition("=")
        key = key.strip()
        if key not in known and not _under_dict_field(key):
            hint = difflib.get_close_matches(key, known, n=1)
            extra = f" (did you mean {hint[0]!r}?)" if hint else ""
            raise ConfigError(f"override --set {key}: unknown config key{extra}")
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ConfigError(f"override --set {key}: value {text!r} is not valid YAML") from exc
        prefix = _space_of(key)
        if prefix:
            _seed_space(out, prefix)
        node = out
        parts = _key_parts(key, prefix)
        for part in parts[:-1]:
            nxt = node.get(part)
            if not isinstance(nxt, dict):
                nxt = {}
                node[part] = nxt
            node = nxt
        if value is None and prefix and len(parts) == prefix.count(".") + 1:
            node.pop(parts[-1], None)  # --set tuning.space.X=null drops dimension X
        else:
            node[parts[-1]] = value
    return out


def override_text(key: str, value: Any) -> str:
    """``--set key=value`` as :func:`apply_overrides` reads it back (YAML: null, [a,b], true).

    A string goes as it is where YAML reads it back as that string, else quoted; anything else
    as JSON, which YAML reads (Python's ``None`` or ``('a', 'b')`` would be refused or read as
    another value).
    """
    plain = isinstance(value, str) and _reads_back(value)
    text = value if plain else json.dumps(value, separators=(",", ":"))
    return f"--set {key}={text}"


def _reads_back(text: str) -> bool:
    """Whether YAML reads ``text`` back as this string (not "2024-06-01", "on", "1e3")."""
    try:
        return yaml.safe_load(text) == text
    except yaml.YAMLError:
        return False


def _key_parts(key: str, prefix: str | None) -> list[str]:
    """Path of ``key``; a strategy-space dimension is one dotted config key (``label.entry``)."""
    if prefix != "tuning.strategy.space.":
        return key.split(".")
    rest = key[len(prefix):].split(".")
    return [*prefix.rstrip(".").split("."), ".".join(rest[:2]), *rest[2:]]


def _space_of(key: str) -> str | None:
    return next((p for p in _SPACES if key.startswith(p)), None)


def _under_dict_field(key: str) -> bool:
    return _space_of(key) is not None


def _seed_space(raw: dict[str, Any], prefix: str = _SPACE) -> None:
    """Give ``raw`` an explicit space at ``prefix`` (the default one) so an override merges."""
    node = raw
    parts = prefix.rstrip(".").split(".")
    for part in parts[:-1]:
        if not isinstance(node.get(part), dict):
            node[part] = {}
        node = node[part]
    if not isinstance(node.get(parts[-1]), dict):
        node[parts[-1]] = {k: v.model_dump(exclude_defaults=True)
                           for k, v in _SPACES[prefix]().items()}


def _deepcopy(raw: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _deepcopy(v) if isinstance(v, Mapping) else v for k, v in raw.items()}


def _format_validation(source: str, exc: ValidationError,
                       overrides: Mapping[str, str] | None = None) -> str:
    known = _known_keys(Config)
    overrides = overrides or {}
    msgs = []
    blamed: list[str] = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        err = {**err, "msg": err["msg"].removeprefix("Value error, ")}  # a validator's own
        if not loc:  # a whole-config rule names its key in its message: "<key>=..."
            loc = next((k for k in overrides if f"{k}=" in err["msg"]), "")
        if loc in overrides:  # the value came from --set, not from the file
            blamed.append(f"--set {overrides[loc]}: {err['msg']}; fix the override")
            continue
        if err["type"] == "extra_forbidden":
            hint = difflib.get_close_matches(loc, known, n=1)
            extra = f" (did you mean {hint[0]!r}?)" if hint else ""
            msgs.append(f"unknown key {loc!r}{extra}: remove or correct it")
        elif err["type"] == "missing":
            msgs.append(f"missing required key {loc!r}")
        else:
            if loc:
                msgs.append(f"key {loc!r}: {err['msg']} (got {err.get('input')!r})")
            else:  # a whole-config rule: its message names the keys; the input is everything
                msgs.append(err["msg"])
    text = "; ".join(blamed)
    if msgs:
        text += ("; " if text else "") + f"config {source}: " + "; ".join(msgs)
    return text


def config_from_mapping(raw: Mapping[str, Any], source: str = "<mapping>",
                        overrides: Mapping[str, str] | None = None) -> Config:
    """Validate a raw mapping into a :class:`Config`, with one-line error messages.

    ``overrides`` maps dotted keys set by ``--set`` to the original ``key=value`` text, so an
    invalid override is blamed on the ``--set``, not on the file.
    """
    try:
        return Config.model_validate(_expand_env(dict(raw), source))
    except ValidationError as exc:
        raise ConfigError(_format_validation(source, exc, overrides)) from None


def load_config(
    path: str | os.PathLike[str], overrides: Iterable[str] = (), data: str | None = None
) -> Config:
    r"""Load a YAML config, apply ``--set`` overrides and the ``--data`` folder, and validate.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "c.yaml"
    >>> _ = p.write_text("data: {path: /tmp}\nlabel: {horizon: 24}\n")
    >>> load_config(p, ["label.entry=2.5"]).label
    LabelConfig(entry=2.5, exit=0.5, stop=4.0, horizon=24)
    """
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigError(f"config {path}: file not found; pass an existing YAML file") from None
    except IsADirectoryError:
        raise ConfigError(f"config {path}: is a folder; pass a YAML file such as "
                          "configs/binance-spot-1h.yaml") from None
    except OSError as exc:
        raise ConfigError(f"config {path}: cannot read ({exc.strerror})") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"config {path}: not a text file (byte {exc.start} is not UTF-8), so "
                          "not a YAML config; pass a YAML file such as "
                          "configs/binance-spot-1h.yaml") from None
    if "\x00" in text:
        raise ConfigError(f"config {path}: a binary file (it holds NUL bytes), not a YAML "
                          "config; pass a YAML file such as configs/binance-spot-1h.yaml")
    try:
        raw = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except ConfigError as exc:
        raise ConfigError(f"config {path} {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"config {path}:{where} is not valid YAML; fix the syntax") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"config {path}: top level must be a mapping of sections (data:, "
                          f"label:, ...), got {type(raw).__name__}; is this a YAML config?")
    overrides = list(overrides)
    raw = apply_overrides(raw, overrides)
    given = {o.partition("=")[0].strip(): o.strip() for o in overrides}
    cfg = config_from_mapping(raw, str(path), given)
    return cfg.with_data_path(data)


def flatten(cfg: BaseModel | Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Flatten a config into ``{"label.horizon": "48", ...}`` for MLflow params."""
    raw = cfg.model_dump(mode="json") if isinstance(cfg, BaseModel) else cfg
    out: dict[str, str] = {}
    for key, value in raw.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, name + "."))
        else:
            out[name] = "null" if value is None else str(value)
    return out
