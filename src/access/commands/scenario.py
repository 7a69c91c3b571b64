"""``access scenario``: apply a scenario file to a network bundle, or compare accessibility before and after."""

from __future__ import annotations

import time
from pathlib import Path

import click

from ._types import MAX_TIME, WINDOW, Departure, Floats, check_writable


@click.group("scenario")
def command():
    """Scenarios (TOML): new venues, closed streets, speed changes, new links, transit lines."""


@command.command("apply")
@click.argument("scenario_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--network", "network_dir", required=True, type=click.Path(exists=True, file_okay=False),
              help="network bundle built by `access network build`")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="folder of the edited network bundle")
@click.option("--venues", type=click.Path(exists=True, dir_okay=False), help="venue table to edit too")
@click.option("--venues-out", type=click.Path(dir_okay=False), help="where to write the edited venues (CSV)")
@click.option("--overwrite", is_flag=True, help="replace OUT even if it is a non-empty folder that is not a bundle")
def apply_cmd(scenario_file, network_dir, out, venues, venues_out, overwrite):
    """Apply SCENARIO_FILE's street and transit edits to a bundle (no rebuild) and save it to OUT."""
    from .._io_util import atomic_path
    from ..network.bundle import TransportNetwork, check_save_target
    from ..scenarios import Scenario

    check_writable(out, "--out")
    check_save_target(out, overwrite=overwrite)
    if venues_out and not venues:
        raise click.BadParameter("--venues-out writes the edited venue table: give the table with --venues",
                                 param_hint="'--venues-out'")
    if venues_out:
        check_writable(venues_out, "--venues-out")
    t0 = time.perf_counter()
    scn = Scenario.from_file(scenario_file)
    net = TransportNetwork.load(network_dir)
    v = scn.apply_venues(venues) if venues else None  # an unknown venue fails here, before anything is written
    new = scn.apply(net)
    t1 = time.perf_counter()
    new.save(out, overwrite=overwrite)
    click.echo(f"{scn}\napplied in {t1 - t0:.2f} s; network written to {out}")
    if v is not None:
        target = Path(venues_out or Path(out) / "venues.csv")
        with atomic_path(target, suffix=".csv") as tmp:
            v.to_csv(tmp, index=False)
        click.echo(f"{len(v)} venues written to {target}")


@command.command("compare")
@click.argument("scenario_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--network", "network_dir", required=True, type=click.Path(exists=True, file_okay=False))
@click.option("--cells", required=True, type=click.Path(exists=True, dir_okay=False),
              help="origins (id, position, optional population)")
@click.option("--venues", required=True, type=click.Path(exists=True, dir_okay=False),
              help="venues (id, position, optional category and capacity)")
@click.option("--areas", type=click.Path(exists=True, dir_okay=False), help="polygons for per-area tables and typology")
@click.option("--area-id", default="id", show_default=True)
@click.option("--mode", type=click.Choice(["walk", "bike", "car", "transit"]), default="walk", show_default=True)
@click.option("--max-time", default=120.0, show_default=True, type=MAX_TIME,
              help="max trip, minutes (r5r's default, as `access matrix`)")
@click.option("--cutoffs", default="15,30", show_default=True, type=Floats("cutoffs_min", gt=0, le=24 * 60),
              help="cumulative cutoffs, minutes")
@click.option("--departure", default=None, type=Departure(), help="transit: first departure, e.g. 2019-05-13T14:00")
@click.option("--window", default=10, show_default=True, type=WINDOW,
              help="transit: departure window, minutes (r5r's default)")
@click.option("--population", default="population", show_default=True, help="demand column of the cells")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="output folder")
@click.option("--no-maps", is_flag=True, help="skip the PNG/HTML delta maps")
def compare_cmd(scenario_file, network_dir, cells, venues, areas, area_id, mode, max_time, cutoffs, departure, window,
                population, out, no_maps):
    """Accessibility before and after SCENARIO_FILE: tables, typology changes and delta maps in OUT."""
    from ..network.bundle import TransportNetwork
    from ..scenarios import AccessibilityState, Scenario, compare

    check_writable(out, "--out")
    if mode == "transit" and departure is None:
        raise click.BadParameter("--mode transit needs a first departure, e.g. --departure 2019-05-13T14:00",
                                 param_hint="'--departure'")
    t0 = time.perf_counter()
    scn = Scenario.from_file(scenario_file)
    if any(e.params.get("category") is not None for e in scn.venue_edits):
        from ..scenarios._venues import normalise_venues

        cats = set(normalise_venues(venues)["category"].dropna().astype(str))
        if cats != {"all"}:
            scn.check_categories(cats)  # before the baseline is computed
    net = TransportNetwork.load(network_dir)
    cut = tuple(cutoffs)
    kw = {}
    if mode == "transit":
        kw = dict(departure=departure, window_min=window)
    base = AccessibilityState.build(net, cells, venues, mode=mode, max_time_min=max_time, cutoffs_min=cut,
                                    demand=population, progress=True, **kw)
    t1 = time.perf_counter()
    after = base.apply(scn)
    t2 = time.perf_counter()
    ar = None
    if areas:
        import geopandas as gpd

        ar = gpd.read_file(areas)
    cmp = compare(base, after, areas=ar, area_id=area_id, population="population")
    paths = cmp.write(out, maps=not no_maps)
    from ..report.scenario import write_scenario_outputs

    paths += write_scenario_outputs(cmp, scn, out, settings=dict(mode=mode, max_time_min=max_time, cutoffs_min=cut,
                                                                 departure=departure.isoformat() if departure
                                                                 else None, window_min=window))
    click.echo(cmp.summary().to_string(index=False))
    from ..report.scenario import material_effects

    for r in material_effects(cmp.cells, cmp.measures).itertuples():
        if r.population_affected > 0:
            click.echo(f"{r.measure}: {r.population_better:,.0f} inhabitants materially better off, "
                       f"{r.population_worse:,.0f} worse off ({r.share_of_population_affected:.1%} of everyone; "
                       f"tolerance {r.tolerance:g} {r.tolerance_unit}){'' if r.material else ' - not material'}")
    how = "incrementally" if not scn.changes_network else "on the edited network"
    click.echo(f"baseline {t1 - t0:.2f} s; scenario applied {how} in {t2 - t1:.3f} s; "
               f"{len(paths)} files written to {out}")
