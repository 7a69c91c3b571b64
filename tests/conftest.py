"""Shared fixtures: the real-data folder (skip with a reason where absent) and built networks."""

from __future__ import annotations

import os

import pytest

from tests._data import test_data_dir

os.environ.setdefault("MPLBACKEND", "Agg")

DATA = test_data_dir()


def data_file(*parts):
    """Path of a real data file, or skip the test with the reason."""
    p = DATA.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"real data file {p} is absent (set ACCESS_TEST_DATA to the shared data folder)")
    return p


@pytest.fixture(scope="session")
def poa_ways():
    from access.io.osm import read_highways

    return read_highways(data_file("porto_alegre", "poa_osm.pbf"))


@pytest.fixture(scope="session")
def nantes_ways():
    import warnings

    from access.io.osm import read_highways

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return read_highways(data_file("nantes", "nantes_subset.osm.pbf"))


@pytest.fixture(scope="session")
def poa_network(tmp_path_factory):
    from access import TransportNetwork

    return TransportNetwork.from_files(data_file("porto_alegre", "poa_osm.pbf"),
                                       cache_dir=tmp_path_factory.mktemp("poa_cache"))


@pytest.fixture(scope="session")
def poa_hexgrid():
    import pandas as pd

    return pd.read_csv(data_file("porto_alegre", "poa_hexgrid.csv"))
