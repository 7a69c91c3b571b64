"""One table of what every indicator column means for a reader: title, unit, direction, limits, colours, format.

Every map (PNG and HTML) and every summary reads its labels from :func:`describe`, so that a share is shown as a
percentage from 0 to 100 % everywhere, a time in minutes, an income in euros per consumption unit, and so that the
colour convention is the same on every map: **worse is warmer** (sequential ``YlOrRd`` running towards red where
the indicator is worse; deltas on the diverging ``RdBu`` centred on zero, red where the scenario makes things
worse). Indicators with no better or worse side (population, density) use a cool sequential scale.

>>> s = describe("time_car_library_share_within_30min")
>>> s.title, s.unit, s.limits, s.fmt(0.8412)
('Car: share of inhabitants within 30 minutes of a library', '% of inhabitants', (0.0, 1.0), '84.1 %')
>>> describe("time_walk_any_mean").unit
'minutes'
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

__all__ = ["IndicatorStyle", "describe", "CLASS_COLORS", "NEUTRAL_GREY", "NO_DATA_GREY", "beyond_column"]

#: fixed colours of the typology classes, so that every map reads the same (fragile = warm)
CLASS_COLORS = {
    "cumulates cultural and social fragility": "#d7191c",
    "cultural fragility": "#fdae61",
    "social fragility": "#abd9e9",
    "no particular stake": "#e0e0e0",
    "no data": "#ffffff",
}
#: exact zeros of a delta map (nothing changed)
NEUTRAL_GREY = "#d9d9d9"
#: areas without a value
NO_DATA_GREY = "#f2f2f2"

_MODES = {"walk": "Walk", "bike": "Bike", "car": "Car", "transit": "Transit"}
_CATEGORY_NAMES = {"any": "a venue (any category)", "conservatoire": "a conservatoire", "opera": "an opera house"}


@dataclass(frozen=True)
class IndicatorStyle:
    """How to show one indicator column.

    Attributes
    ----------
    column : the column name
    title : a human title ("Car: mean minutes to the nearest library")
    unit : the unit shown on legends ("minutes", "% of inhabitants", "euros per consumption unit per year")
    kind : "time", "share", "money", "rate", "count", "index", "delta" or "category"
    direction : +1 higher is better, -1 higher is worse, 0 neither
    limits : fixed colour limits (shares: 0-1, shown 0-100 %), or None to use the data's range
    scale : multiplier from the stored value to the shown value (100 for shares)
    decimals : decimals shown in tooltips and tables
    """

    column: str
    title: str
    unit: str
    kind: str
    direction: int = 0
    limits: tuple[float, float] | None = None
    scale: float = 1.0
    decimals: int = 1

    @property
    def cmap(self) -> str:
        """Colour map name (same name in matplotlib and Plotly): worse = warmer."""
        if self.kind == "delta":
            # red where worse: a time that grows is worse (RdBu_r puts red on the positive side)
            return "RdBu_r" if self.direction < 0 else "RdBu"
        if self.direction < 0:
            return "YlOrRd"
        if self.direction > 0:
            return "YlOrRd_r"
        return "Blues"

    @property
    def diverging(self) -> bool:
        return self.kind == "delta"

    @property
    def legend(self) -> str:
        """Legend title: the unit, and for deltas which side is better."""
        if self.kind == "delta":
            side = "negative = better" if self.direction < 0 else "positive = better"
            return f"{self.unit} (after − before; {side})"
        return self.unit

    def fmt(self, value) -> str:
        """A value as a reader sees it: rounded, with its unit ("84.1 %", "12.3 minutes", "–" for no value)."""
        if value is None:
            return "–"
        try:
            v = float(value)
        except (TypeError, ValueError):
            return str(value)
        if math.isnan(v):
            return "–"
        if math.isinf(v):
            return "none reachable" if self.kind == "time" else ("+∞" if v > 0 else "−∞")
        shown = v * self.scale
        sign = "+" if self.kind == "delta" and shown > 0 else ""
        num = f"{sign}{shown:,.{self.decimals}f}"
        if self.unit.startswith("%"):
            return f"{num} %"
        if self.kind == "delta" and self.unit.startswith("percentage points"):
            return f"{num} pp"
        short = {"minutes": "minutes", "euros per consumption unit per year": "€/CU/year",
                 "inhabitants": "inhabitants", "venues per 10,000 inhabitants": "per 10k",
                 "inhabitants per km²": "inh./km²", "km²": "km²", "venues": "venues"}.get(self.unit, "")
        return f"{num} {short}".rstrip()


def beyond_column(within_column: str) -> str:
    """``time_car_any_share_within_30min`` -> ``time_car_any_share_beyond_30min`` (derived as 1 - within)."""
    return within_column.replace("_share_within_", "_share_beyond_")


def _target(cat: str) -> str:
    if cat in _CATEGORY_NAMES:
        return _CATEGORY_NAMES[cat]
    name = cat.replace("_", " ")
    return ("an " if name[:1] in "aeiou" else "a ") + name


#: the social-barrier shares (:mod:`access.indicators.barriers`): title, unit (their denominators)
_BARRIER_SHARES = {
    "share_65_plus": ("Share of inhabitants aged 65 or more", "% of inhabitants"),
    "share_80_plus": ("Share of inhabitants aged 80 or more", "% of inhabitants"),
    "share_under_18": ("Share of inhabitants under 18", "% of inhabitants"),
    "share_single_person": ("Share of households of one person (living alone)", "% of households"),
    "share_single_parent": ("Share of single-parent families", "% of households"),
    "share_poor_households": ("Share of households under the poverty line", "% of households"),
    "share_social_housing": ("Social dwellings per household", "% of households"),
    "share_no_car": ("Share of households without a car (census, by IRIS)", "% of households"),
}


def _barrier_style(c: str) -> IndicatorStyle | None:
    """Styles of the social-barrier columns (``docs/barriers.md``); None for other columns. A barrier share is
    worse when higher; a round-trip share or a Saturday share within a threshold is better when higher."""
    if c in _BARRIER_SHARES:
        t, u = _BARRIER_SHARES[c]
        return IndicatorStyle(c, t, u, "share", -1, (0.0, 1.0), 100.0)
    fixed = {
        "share_population_estimated_cells": ("Share of inhabitants in cells whose Filosofi values are imputed "
                                             "(under 11 households)", "% of inhabitants", "share", 0, (0.0, 1.0),
                                             100.0, 1),
        "census_households": ("Households (census, allocated from the IRIS)", "households", "count", 0, None, 1.0, 1),
        "households_no_car": ("Households without a car (census, allocated from the IRIS)", "households", "count",
                              -1, None, 1.0, 1),
        "barrier_index": ("Social barriers to culture: barrier index (weighted z-scores over the region's EPCI)",
                          "index (z-score; higher = more barriers)", "index", -1, None, 1.0, 2),
        "barrier_index_stability": ("Stability of the barrier class under other index weights",
                                    "% of weight variants keeping the class", "share", +1, (0.0, 1.0), 100.0, 0),
        "barrier_index_rank": ("Rank of the barrier index (1 = most barriers)", "rank", "count", 0, None, 1.0, 0),
        "barrier_class": ("Social barriers to culture: class", "class", "category", 0, None, 1.0, 0),
        "main_barriers": ("The two main barriers", "barriers", "category", 0, None, 1.0, 0),
        "estimated": ("Filosofi values imputed (INSEE i_est_200)", "yes / no", "category", 0, None, 1.0, 0),
    }
    if c in fixed:
        t, u, k, d, lim, sc, dec = fixed[c]
        return IndicatorStyle(c, t, u, k, d, lim, sc, dec)
    m = re.fullmatch(r"carless_share_beyond_(\d+(?:\.\d+)?)min_(.+)", c)
    if m:
        return IndicatorStyle(c, f"Households without a car beyond {m.group(1)} minutes of {_target(m.group(2))} "
                              "(walk, bike or transit)", "% of households without a car", "share", -1, (0.0, 1.0),
                              100.0)
    m = re.fullmatch(r"carless_gap_(.+?)(_mean)?", c)
    if m:
        what = "mean extra minutes" if m.group(2) else "extra minutes"
        return IndicatorStyle(c, f"Without a car: {what} to the nearest {_target(m.group(1)).split(' ', 1)[1]} "
                              "(no-car time minus the time with a car)", "minutes", "time", -1)
    m = re.fullmatch(r"time_(no_car|with_car)_(.+?)(?:_(mean|median))?", c)
    if m:
        who = ("Without a car (best of walk, bike and transit)" if m.group(1) == "no_car"
               else "With a car (best of the car and the other modes)")
        stat = f"{m.group(3)} minutes" if m.group(3) else "minutes"
        return IndicatorStyle(c, f"{who}: {stat} to the nearest {_target(m.group(2)).split(' ', 1)[1]}", "minutes",
                              "time", -1)
    m = re.fullmatch(r"evening_round_trip_(carless_)?share_(.+)", c)
    if m:
        who, unit = (("households without a car", "% of households without a car") if m.group(1)
                     else ("inhabitants", "% of inhabitants"))
        tgt = _target(m.group(2)).split(" ", 1)[1]
        return IndicatorStyle(c, f"Evening: share of {who} who can go to the nearest {tgt} by transit for the show "
                              "and get home after it", unit, "share", +1, (0.0, 1.0), 100.0)
    m = re.fullmatch(r"evening_round_trip_(.+)", c)
    if m:
        return IndicatorStyle(c, f"Evening round trip by transit to the nearest "
                              f"{_target(m.group(1)).split(' ', 1)[1]}", "1 = yes, 0 = no", "count", +1, (0.0, 1.0),
                              1.0, 0)
    m = re.fullmatch(r"evening_(out|back)_min_(.+)", c)
    if m:
        tgt = _target(m.group(2)).split(" ", 1)[1]
        t = (f"Evening: minutes between leaving home and the show at the nearest {tgt} (arrive-by, by transit)"
             if m.group(1) == "out" else f"Evening: minutes of the trip home by transit from the {tgt} after the show")
        return IndicatorStyle(c, t, "minutes", "time", -1)
    m = re.fullmatch(r"evening_(departure|venue)_(.+)", c)
    if m:
        tgt = _target(m.group(2)).split(" ", 1)[1]
        t = (f"Evening: latest departure from home to arrive in time at the {tgt}" if m.group(1) == "departure"
             else f"Evening: the {tgt} of the round trip")
        return IndicatorStyle(c, t, "time of day" if m.group(1) == "departure" else "venue", "category")
    m = re.fullmatch(r"time_transit_saturday_(.+?)(?:_(mean|median)|_share_within_(\d+(?:\.\d+)?)min)?", c)
    if m:
        tgt = _target(m.group(1))
        if m.group(3):
            return IndicatorStyle(c, f"Transit on Saturday afternoon: share of inhabitants within {m.group(3)} "
                                  f"minutes of {tgt}", "% of inhabitants", "share", +1, (0.0, 1.0), 100.0)
        stat = f"{m.group(2)} minutes" if m.group(2) else "minutes"
        return IndicatorStyle(c, f"Transit on Saturday afternoon: {stat} to the nearest {tgt.split(' ', 1)[1]}",
                              "minutes", "time", -1)
    return None


def describe(column: str) -> IndicatorStyle:
    """The :class:`IndicatorStyle` of an indicator column (any column gets one; unknown ones a neutral style)."""
    c = str(column)
    m = re.fullmatch(r"(.+)_delta", c)
    if m:
        base = describe(m.group(1))
        unit = "percentage points" if base.unit.startswith("%") else base.unit
        d = base.direction if base.direction else -1
        return IndicatorStyle(c, f"Change in {base.title[0].lower()}{base.title[1:]}", unit, "delta", d, None,
                              base.scale, base.decimals)
    m = re.fullmatch(r"(.+)_(before|after)", c)
    if m:
        base = describe(m.group(1))
        return IndicatorStyle(c, f"{base.title} ({m.group(2)})", base.unit, base.kind, base.direction, base.limits,
                              base.scale, base.decimals)
    if c == "class":
        return IndicatorStyle(c, "Typology of the territories (cultural stakes)", "class", "category")
    bs = _barrier_style(c)
    if bs is not None:
        return bs
    m = re.fullmatch(r"time_(?:(walk|bike|car|transit)_)?(.+?)_(mean|median|share_unreachable"
                     r"|share_within_(\d+(?:\.\d+)?)min|share_beyond_(\d+(?:\.\d+)?)min)", c)
    if m:
        mode, cat, stat = _MODES.get(m.group(1) or "", "Travel"), m.group(2), m.group(3)
        tgt = _target(cat)
        if stat in ("mean", "median"):
            what = "mean" if stat == "mean" else "median"
            who = "those who reach one within the trip limit" if m.group(1) == "transit" else "those who reach one"
            return IndicatorStyle(c, f"{mode}: {what} minutes to the nearest {tgt.split(' ', 1)[1]} ({who})",
                                  "minutes", "time", -1)
        if stat == "share_unreachable":
            return IndicatorStyle(c, f"{mode}: share of inhabitants reaching no {tgt.split(' ', 1)[1]}",
                                  "% of inhabitants", "share", -1, (0.0, 1.0), 100.0)
        if m.group(4):
            return IndicatorStyle(c, f"{mode}: share of inhabitants within {m.group(4)} minutes of {tgt}",
                                  "% of inhabitants", "share", +1, (0.0, 1.0), 100.0)
        return IndicatorStyle(c, f"{mode}: share of inhabitants beyond {m.group(5)} minutes of {tgt}",
                              "% of inhabitants", "share", -1, (0.0, 1.0), 100.0)
    m = re.fullmatch(r"time_(?:(walk|bike|car|transit)_)?(.+)", c)
    if m:
        mode = _MODES.get(m.group(1) or "", "Travel")
        return IndicatorStyle(c, f"{mode}: minutes to the nearest {_target(m.group(2)).split(' ', 1)[1]}",
                              "minutes", "time", -1)
    m = re.fullmatch(r"reach_(walk|bike|car|transit)_(\d+(?:\.\d+)?)min(_mean)?", c)
    if m:
        return IndicatorStyle(c, f"{_MODES[m.group(1)]}: venues within {m.group(2)} minutes", "venues", "count", +1)
    m = re.fullmatch(r"(gravity|fca)_(walk|bike|car|transit)(_mean)?(_gini|_theil)?", c)
    if m:
        mode = _MODES[m.group(2)]
        if m.group(4):
            return IndicatorStyle(c, f"{mode}: inequality of {m.group(1)} access within the area "
                                  f"({m.group(4)[1:].capitalize()})", "index (0 = equal)", "index", -1, decimals=2)
        if m.group(1) == "gravity":
            return IndicatorStyle(c, f"{mode}: venues weighted by travel time (half-life 15 minutes)",
                                  "venues (time-weighted)", "count", +1, decimals=2)
        return IndicatorStyle(c, f"{mode}: venues per 10,000 inhabitants competing for them (2SFCA)",
                              "venues per 10,000 inhabitants", "rate", +1, decimals=2)
    m = re.fullmatch(r"venues_per_10k(?:_(.+))?", c)
    if m:
        what = f"{m.group(1).replace('_', ' ')} venues" if m.group(1) else "cultural venues"
        return IndicatorStyle(c, f"Supply: {what} per 10,000 inhabitants", "venues per 10,000 inhabitants", "rate",
                              +1, decimals=1)
    m = re.fullmatch(r"venues(?:_(.+))?", c)
    if m:
        what = f"{m.group(1).replace('_', ' ')} venues" if m.group(1) else "cultural venues"
        return IndicatorStyle(c, f"Supply: {what} in the area", "venues", "count", +1, decimals=0)
    m = re.fullmatch(r"reachable_(.+)_(\d+(?:\.\d+)?)min(_mean)?", c)
    if m:
        return IndicatorStyle(c, f"{m.group(1).replace('_', ' ').capitalize()} venues within {m.group(2)} minutes",
                              "venues", "count", +1)
    fixed = {
        "population": ("Population", "inhabitants", "count", 0, None, 1.0, 0),
        "n_cells": ("Populated 200 m cells", "cells", "count", 0, None, 1.0, 0),
        "poverty_rate": ("Poverty rate (households under the poverty line)", "% of households", "share", -1,
                         (0.0, 1.0), 100.0, 1),
        "median_income": ("Median standard of living", "euros per consumption unit per year", "money", +1, None,
                          1.0, 0),
        "income_per_capita": ("Standard of living", "euros per consumption unit per year", "money", +1, None, 1.0,
                              0),
        "share_elderly": ("Share of inhabitants aged 65 or more", "% of inhabitants", "share", -1, (0.0, 1.0),
                          100.0, 1),
        "density": ("Population density", "inhabitants per km²", "rate", 0, None, 1.0, 0),
        "area_km2": ("Area", "km²", "count", 0, None, 1.0, 0),
        "supply_score": ("Supply score (venues per inhabitant, z-score)", "index (z-score; higher = better)",
                         "index", +1, None, 1.0, 2),
        "access_score": ("Access score (travel times and shares, z-score)", "index (z-score; higher = better)",
                         "index", +1, None, 1.0, 2),
        "social_fragility": ("Social fragility (poverty, income, age; z-score)", "index (z-score; higher = more "
                             "fragile)", "index", -1, None, 1.0, 2),
        "cultural_fragility": ("Cultural fragility (low supply and access; z-score)", "index (z-score; higher = "
                               "more fragile)", "index", -1, None, 1.0, 2),
    }
    if c in fixed:
        t, u, k, d, lim, sc, dec = fixed[c]
        return IndicatorStyle(c, t, u, k, d, lim, sc, dec)
    if re.search(r"share|rate", c):
        return IndicatorStyle(c, c.replace("_", " ").capitalize(), "% of inhabitants", "share", 0, (0.0, 1.0), 100.0)
    if re.search(r"gini|theil", c):
        return IndicatorStyle(c, c.replace("_", " ").capitalize(), "index (0 = equal)", "index", -1, decimals=2)
    if re.search(r"(^|_)time", c):
        return IndicatorStyle(c, c.replace("_", " ").capitalize(), "minutes", "time", -1)
    return IndicatorStyle(c, c.replace("_", " ").capitalize(), "value", "count", 0, decimals=2)
