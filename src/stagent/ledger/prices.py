"""The price table: effective-dated per-model prices, loaded from a data file.

The shipped table is ``prices.yaml`` next to this module (see its header for the format). Money
is `Decimal` USD per million tokens, read from the file's text without passing through float.
"""

from __future__ import annotations

import hashlib
from datetime import date
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple

import yaml
from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticValidationError

from stagent.domain import yaml_lines
from stagent.domain.errors import Problem, ValidationError
from stagent.ledger.price_table import (
    DEFAULT_PRICES_PATH,
    CategoryPrices,
    ModelPricing,
    PriceMatch,
    PricePeriod,
    PriceTable,
    PriceTier,
    normalize_model_id,
)

__all__ = [  # the values live in `price_table`; this module reads and validates the file
    "DEFAULT_PRICES_PATH",
    "CategoryPrices",
    "ModelPricing",
    "PriceMatch",
    "PricePeriod",
    "PriceTable",
    "PriceTier",
    "load_price_table",
    "normalize_model_id",
    "parse_price_table",
    "with_overrides",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Prices(_Strict):
    input: Decimal = Field(ge=0)
    output: Decimal = Field(ge=0)
    cache_write_5m: Decimal | None = Field(default=None, ge=0)
    cache_write_1h: Decimal | None = Field(default=None, ge=0)
    cache_read: Decimal | None = Field(default=None, ge=0)

    def value(self) -> CategoryPrices:
        return CategoryPrices(
            self.input, self.output, self.cache_write_5m, self.cache_write_1h, self.cache_read
        )


class _TierSpec(_Strict):
    above: int = Field(gt=0)
    input: Decimal | None = Field(default=None, ge=0)
    output: Decimal | None = Field(default=None, ge=0)
    cache_write_5m: Decimal | None = Field(default=None, ge=0)
    cache_write_1h: Decimal | None = Field(default=None, ge=0)
    cache_read: Decimal | None = Field(default=None, ge=0)

    def value(self, base: CategoryPrices) -> PriceTier:
        def pick(own: Decimal | None, fallback: Decimal | None) -> Decimal | None:
            return own if own is not None else fallback

        return PriceTier(
            above=self.above,
            prices=CategoryPrices(
                input=self.input if self.input is not None else base.input,
                output=self.output if self.output is not None else base.output,
                cache_write_5m=pick(self.cache_write_5m, base.cache_write_5m),
                cache_write_1h=pick(self.cache_write_1h, base.cache_write_1h),
                cache_read=pick(self.cache_read, base.cache_read),
            ),
        )


class _PeriodSpec(_Prices):
    from_: date | None = Field(default=None, alias="from")
    source: str = Field(min_length=1)
    tiers: list[_TierSpec] = Field(default_factory=lambda: [])


MODIFIERS = ("fast", "regional", "batch", "flex")
"""Whole-request price modifiers a table may define (see the header of prices.yaml)."""


class _Multipliers(_Strict):
    fast: Decimal | None = Field(default=None, gt=0)
    regional: Decimal | None = Field(default=None, gt=0)
    batch: Decimal | None = Field(default=None, gt=0)
    flex: Decimal | None = Field(default=None, gt=0)

    def items(self) -> dict[str, Decimal]:
        return {k: v for k in MODIFIERS if (v := getattr(self, k)) is not None}


class _ModelSpec(_Strict):
    id: str = Field(min_length=1)
    provider: str = Field(min_length=1)
    aliases: list[str] = Field(default_factory=lambda: [])
    note: str = ""
    multipliers: _Multipliers = Field(default_factory=_Multipliers)
    prices: list[_PeriodSpec] = Field(min_length=1)


class _TableSpec(_Strict):
    version: str = Field(min_length=1)
    checked: date
    sources: dict[str, str] = Field(default_factory=lambda: {})
    modifiers: dict[str, _Multipliers] = Field(default_factory=lambda: {})
    models: list[_ModelSpec]


_SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's loader when PyYAML has it: the shipped table then parses in milliseconds, not a
third of a second (every CLI command that opens a workspace reads it)."""


class _DecimalLoader(_SafeLoader):
    """A YAML loader that reads numbers with a fraction as `Decimal`, never as float."""


def _decimal(loader: Any, node: yaml.Node) -> Decimal:
    return Decimal(str(loader.construct_scalar(node)))  # pyright: ignore[reportArgumentType]


_DecimalLoader.add_constructor("tag:yaml.org,2002:float", _decimal)


def parse_price_table(
    data: Any, *, source: str = "<prices>", text: str | None = None
) -> PriceTable:
    """Validate price-table data; errors name ``source``, the field and (given the file's
    ``text``) its line, one `Problem` each."""
    try:
        spec = _TableSpec.model_validate(data)
    except PydanticValidationError as exc:
        raise ValidationError.listing(
            [
                _problem(source, text, list(error["loc"]), error["msg"].lower())
                for error in exc.errors()
            ]
        ) from None
    defaults = {name: mods.items() for name, mods in spec.modifiers.items()}
    models = [
        _model(item, spec.sources, defaults, _Where(source, text, entry))
        for entry, item in enumerate(spec.models)
    ]
    return PriceTable(spec.version, spec.checked, models, spec.sources, modifiers=defaults)


WHOLE = "price table"
"""The field a problem with the whole file names."""
HINT = "see the header of prices.yaml"


def _problem(source: str, text: str | None, path: list[str | int], message: str) -> Problem:
    """A problem at ``path`` of the file ``source`` (on its line when ``text`` is known)."""
    line = yaml_lines.line_of(text, path) if text is not None else None
    return Problem(yaml_lines.format_path(path, empty=WHOLE), message, HINT, source, line)


class _Where(NamedTuple):
    """Where a model's entry is: the file, its text (if known) and the index of its entry."""

    source: str
    text: str | None
    entry: int


def with_overrides(
    base: PriceTable, data: Any, *, source: str, digest: str, text: str | None = None
) -> PriceTable:
    """``base`` with a user's override file applied: its models replace (or add to) the shipped
    ones of the same id and names; the version becomes ``<base>+user-<digest>``. ``text``, the
    file's, places its problems on their lines."""
    if not isinstance(data, dict):
        message = "expected a mapping with a 'models' list"
        raise ValidationError.listing([_problem(source, text, [], message)])
    filled: dict[str, Any] = {"version": base.version, "checked": base.checked, **data}
    filled["version"], filled["checked"] = base.version, base.checked
    sources = {**base.sources, **dict(filled.get("sources") or {})}
    modifiers: dict[str, dict[str, Any]] = {
        provider: {key: str(value) for key, value in mods.items()}
        for provider, mods in base.modifiers.items()
    }
    for provider, mods in dict(filled.get("modifiers") or {}).items():
        modifiers.setdefault(str(provider), {}).update(dict(mods or {}))
    filled["sources"], filled["modifiers"] = sources, modifiers
    user = parse_price_table(filled, source=source, text=text)
    mine = {normalize_model_id(m.model) for m in user.models}
    kept = [m for m in base.models if normalize_model_id(m.model) not in mine]
    return PriceTable(
        f"{base.version}+user-{digest}",
        base.checked,
        [*kept, *user.models],
        sources,
        overrides=tuple(m.model for m in user.models),
        modifiers=user.modifiers,
    )


def _model(
    item: _ModelSpec,
    sources: dict[str, str],
    defaults: dict[str, dict[str, Decimal]],
    where: _Where,
) -> ModelPricing:
    periods: list[PricePeriod] = []
    for spec in item.prices:
        base = spec.value()
        periods.append(
            PricePeriod(
                effective_from=spec.from_,
                prices=base,
                tiers=tuple(tier.value(base) for tier in spec.tiers),
                source=sources.get(spec.source, spec.source),
            )
        )
    starts = [p.effective_from for p in periods]
    if starts[1:].count(None) or starts != sorted(starts, key=lambda d: d or date.min):
        message = (
            f"model {item.id}: price periods must be in date order (only the first may omit 'from')"
        )
        path: list[str | int] = ["models", where.entry, "prices"]
        raise ValidationError.listing([_problem(where.source, where.text, path, message)])
    return ModelPricing(
        model=item.id,
        provider=item.provider,
        aliases=tuple(item.aliases),
        periods=tuple(periods),
        note=item.note,
        multipliers=tuple({**defaults.get(item.provider, {}), **item.multipliers.items()}.items()),
    )


def load_price_table(path: Path | None = None, *, user_file: Path | None = None) -> PriceTable:
    """Read a price table file (the shipped one by default, parsed once per process), with the
    user's override file applied when ``user_file`` exists."""
    table = _default_table() if path is None else _load(path)
    if user_file is None or not user_file.exists():
        return table
    text = _read(user_file)
    digest = hashlib.sha256(text.encode()).hexdigest()[:8]
    data = _yaml(text, user_file)
    return with_overrides(table, data, source=str(user_file), digest=digest, text=text)


@lru_cache(maxsize=1)
def _default_table() -> PriceTable:
    return _load(DEFAULT_PRICES_PATH)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValidationError(f"{path}: cannot read the price table ({exc.strerror})") from None


def _yaml(text: str, path: Path) -> Any:
    try:
        return yaml.load(text, Loader=_DecimalLoader)  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        said = getattr(exc, "problem", None)
        problem = Problem(
            WHOLE,
            f"is not valid YAML: {said}" if said else "is not valid YAML",
            yaml_lines.syntax_hint(exc, "the price table is YAML", quoted='note: "Fix: a note"'),
            str(path),
            mark.line + 1 if mark is not None else None,
            mark.column + 1 if mark is not None else None,
        )
        raise ValidationError.listing([problem]) from None


def _load(path: Path) -> PriceTable:
    text = _read(path)
    return parse_price_table(_yaml(text, path), source=str(path), text=text)
