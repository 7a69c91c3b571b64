"""INSEE census housing base by IRIS, IRIS contours and their allocation to the 200 m cells (issue 16)."""

from __future__ import annotations

import io
import warnings
import zipfile

import numpy as np
import pandas as pd
import pytest

from access._errors import InputFileError, ValidationError
from access.region.census import (
    allocate_iris_to_cells,
    read_census_logement,
    read_iris_contours,
)

# The layout of INSEE's "base-ic-logement-2021.CSV" (base infracommunale, Logement): ';'-separated, the
# geographic codes first (IRIS 9 characters, leading zeros kept, Corsica's 2A/2B), then the P21_/C21_ counts as
# weighted estimates with many decimals. Columns between P21_APPART and P21_RP_GARL are abridged here.
REAL_HEADER = ("IRIS;REG;DEP;UU2020;COM;TYP_IRIS;LAB_IRIS;P21_LOG;P21_RP;P21_RSECOCC;P21_LOGVAC;P21_MAISON;"
               "P21_APPART;P21_RP_1P;P21_RP_2P;P21_RP_PROP;P21_RP_LOC;P21_RP_LOCHLMV;P21_RP_GRAT;P21_RP_GARL;"
               "P21_RP_VOIT1P;P21_RP_VOIT1;P21_RP_VOIT2P;P21_RP_HABFOR;P21_RP_CASE;P21_RP_MIBOIS;P21_RP_MIDUR;"
               "C21_RP_HSTU1P;C21_RP_HSTU1P_SUROCC")
REAL_ROWS = [
    ("010040101;84;01;01302;01004;H;1;1123.4518293;1034.8837411;12.0392811;76.5288071;301.0032;822.4486;"
     "210.3;198.1;402.57;612.2;250.1;20.1;480.3;812.65830021;560.1;252.55830021;0;0;310.2;724.6;20.2;1.1"),
    ("2A0040000;94;2A;2A701;2A004;Z;5;310.0000001;205.5;90.2;14.3;250.1;59.9;20.1;35.2;150.3;50.1;0;5.1;"
     "90.3;190.25;120.2;70.05;0;0;60.1;145.4;0;0"),
    "591830000;32;59;59702;59183;Z;5;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0",
]
META = "COD_VAR;LIB_VAR;LIB_VAR_LONG\nIRIS;Code IRIS;Code du département suivi du numéro de commune\n"


def _zip(path, members: dict):
    with zipfile.ZipFile(path, "w") as z:
        for n, data in members.items():
            z.writestr(n, data)
    return path


def test_real_format_csv_zip_is_read_as_expected(tmp_path):
    body = "\n".join([REAL_HEADER, *REAL_ROWS]) + "\n"
    p = _zip(tmp_path / "base-ic-logement-2021_csv.zip",
             {"meta_base-ic-logement-2021.CSV": META.encode("utf-8"), "base-ic-logement-2021.CSV": body.encode()})
    c = read_census_logement(p)
    assert c.attrs["vintage"] == 2021
    assert list(c.columns) == ["iris", "commune", "households", "households_car", "households_no_car", "share_no_car"]
    assert c["iris"].tolist() == ["010040101", "2A0040000", "591830000"]  # codes kept as text, zeros and 2A
    assert c["commune"].tolist() == ["01004", "2A004", "59183"]
    assert c.loc[0, "households"] == pytest.approx(1034.8837411, abs=1e-9)
    assert c.loc[0, "households_car"] == pytest.approx(812.65830021, abs=1e-9)
    assert c.loc[0, "share_no_car"] == pytest.approx((1034.8837411 - 812.65830021) / 1034.8837411, rel=1e-12)
    assert c.loc[1, "households_no_car"] == pytest.approx(205.5 - 190.25)
    assert np.isnan(c.loc[2, "share_no_car"]) and c.loc[2, "households"] == 0  # an IRIS without main residences
    # the bare CSV and an explicit vintage give the same table
    (tmp_path / "base-ic-logement-2021.CSV").write_text(body, encoding="utf-8")
    pd.testing.assert_frame_equal(read_census_logement(tmp_path / "base-ic-logement-2021.CSV", vintage=2021), c)


def test_other_vintages_and_their_errors(tmp_path):
    body = "\n".join([REAL_HEADER.replace("P21_", "P19_").replace("C21_", "C19_"), *REAL_ROWS]) + "\n"
    p = tmp_path / "base-ic-logement-2019.CSV"
    p.write_text(body, encoding="cp1252")
    c = read_census_logement(p)
    assert c.attrs["vintage"] == 2019 and len(c) == 3
    with pytest.raises(ValidationError, match=r"P21_RP.*2019"):
        read_census_logement(p, vintage=2021)
    with pytest.raises(ValidationError, match="census year"):
        read_census_logement(p, vintage="21")


@pytest.mark.parametrize("bad, match", [
    ("dup", "appears 2 times"), ("over", "exceeds P21_RP"), ("neg", "negative"), ("text", "non-numeric"),
    ("nocol", "no column 'Pyy_RP_VOIT1P'")])
def test_bad_census_rows_name_the_row_and_the_fix(tmp_path, bad, match):
    rows = list(REAL_ROWS)
    header = REAL_HEADER
    if bad == "dup":
        rows.append(rows[0])
    elif bad == "over":
        rows[1] = rows[1].replace(";190.25;", ";290.25;")
    elif bad == "neg":
        rows[1] = rows[1].replace(";205.5;", ";-205.5;")
    elif bad == "text":
        rows[1] = rows[1].replace(";205.5;", ";n/a;")
    else:
        header = header.replace("P21_RP_VOIT1P", "P21_RP_VOITURE")
    p = tmp_path / "base.csv"
    p.write_text("\n".join([header, *rows]) + "\n")
    with pytest.raises(ValidationError, match=match):
        read_census_logement(p)


def test_missing_and_foreign_files(tmp_path):
    with pytest.raises(InputFileError, match="does not exist"):
        read_census_logement(tmp_path / "none.zip")
    p = _zip(tmp_path / "x.zip", {"readme.txt.md": b"hello"})
    with pytest.raises(InputFileError, match="no data CSV/XLSX"):
        read_census_logement(p)


def test_xlsx_workbook_with_title_rows_and_numeric_codes(tmp_path):
    pytest.importorskip("openpyxl")
    import openpyxl

    from access.synth.writers import write_census_logement

    df = pd.read_csv(io.StringIO("\n".join([REAL_HEADER, *REAL_ROWS])), sep=";", dtype=str)
    num = [c for c in df.columns if c.startswith(("P21", "C21"))]
    df[num] = df[num].astype(float)
    p = tmp_path / "base-ic-logement-2021.zip"
    write_census_logement(df, p, vintage=2021, fmt="xlsx")
    x = read_census_logement(p)
    (tmp_path / "b.CSV").write_text("\n".join([REAL_HEADER, *REAL_ROWS]) + "\n")
    pd.testing.assert_frame_equal(x, read_census_logement(tmp_path / "b.CSV"))
    # a workbook where Excel turned the codes into numbers (leading zero lost) still gives 9-character codes
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "IRIS"
    ws.append(["Logements en 2021"])
    ws.append([])
    ws.append(["IRIS", "COM", "P21_RP", "P21_RP_VOIT1P"])
    ws.append([10040101, 1004, 100.5, 80.25])
    wb.save(tmp_path / "n.xlsx")
    y = read_census_logement(tmp_path / "n.xlsx")
    assert y["iris"].tolist() == ["010040101"] and y["commune"].tolist() == ["01004"]
    assert y.loc[0, "share_no_car"] == pytest.approx(20.25 / 100.5)


def _square_iris(tmp_path):
    import geopandas as gpd
    import shapely

    # two IRIS side by side in EPSG:3035, the border at x = 4_000_100 (through the middle of a column of cells)
    a = shapely.box(3_999_000, 3_000_000, 4_000_100, 3_001_000)
    b = shapely.box(4_000_100, 3_000_000, 4_001_000, 3_001_000)
    g = gpd.GeoDataFrame({"CODE_IRIS": ["621190101", "621190102"], "INSEE_COM": ["62119", "62119"],
                          "NOM_IRIS": ["A", "B"]}, geometry=[a, b], crs=3035).to_crs(2154)
    return g


def _cells_at(xs, ys, men):
    import geopandas as gpd
    from pyproj import Transformer

    lon, lat = Transformer.from_crs(3035, 4326, always_xy=True).transform(np.asarray(xs, float), np.asarray(ys, float))
    return gpd.GeoDataFrame({"id": [f"c{k}" for k in range(len(xs))], "households": np.asarray(men, float),
                             "cell_size_m": 200.0}, geometry=gpd.points_from_xy(lon, lat), crs=4326)


def test_iris_contours_ign_and_etalab(tmp_path):
    from access.synth.writers import write_geojson, write_iris_contours

    g = _square_iris(tmp_path)
    write_iris_contours(g, tmp_path / "contours.gpkg")
    e = g.rename(columns={"CODE_IRIS": "code_iris", "INSEE_COM": "insee_com", "NOM_IRIS": "nom_iris"})
    write_geojson(e, tmp_path / "iris.geojson")
    ign, eta = read_iris_contours(tmp_path / "contours.gpkg"), read_iris_contours(tmp_path / "iris.geojson")
    assert ign.crs.to_epsg() == 4326 and ign["iris"].tolist() == ["621190101", "621190102"]
    assert eta["iris"].tolist() == ign["iris"].tolist() and eta["commune"].tolist() == ["62119", "62119"]
    assert np.allclose(eta.to_crs(3035).area, ign.to_crs(3035).area, rtol=1e-4)  # GeoJSON keeps 6 decimals
    with pytest.raises(ValidationError, match="no IRIS code column"):
        bad = g.rename(columns={"CODE_IRIS": "other"})
        bad.to_file(tmp_path / "bad.gpkg")
        read_iris_contours(tmp_path / "bad.gpkg")


def test_allocation_by_areal_weights_and_by_centre_exactly(tmp_path):
    g = _square_iris(tmp_path)
    g.to_file(tmp_path / "c.gpkg")
    contours = read_iris_contours(tmp_path / "c.gpkg")
    census = pd.DataFrame({"iris": ["621190101", "621190102"], "commune": ["62119"] * 2,
                           "households": [100.0, 50.0], "households_car": [80.0, 20.0],
                           "households_no_car": [20.0, 30.0], "share_no_car": [0.2, 0.6]})
    # cell 0 straddles (half in A, half in B), cell 1 inside A, cell 2 inside B
    cells = _cells_at([4_000_100, 3_999_500, 4_000_700], [3_000_500] * 3, [10, 30, 10])
    a = allocate_iris_to_cells(cells, census, contours, method="areal")
    wa = np.array([5.0, 30.0]) / 35.0  # A: straddling cell 0.5 x 10, cell 1 30
    wb = np.array([5.0, 10.0]) / 15.0  # B: straddling cell 0.5 x 10, cell 2 10
    np.testing.assert_allclose(a["census_households"], [100 * wa[0] + 50 * wb[0], 100 * wa[1], 50 * wb[1]],
                               rtol=1e-6)
    np.testing.assert_allclose(a["households_no_car"], [20 * wa[0] + 30 * wb[0], 20 * wa[1], 30 * wb[1]], rtol=1e-6)
    np.testing.assert_allclose(a["share_no_car"][1:], [0.2, 0.6], rtol=1e-9)
    assert a["census_households"].sum() == pytest.approx(150.0, rel=1e-12)  # the IRIS totals are conserved
    assert a.attrs["households_outside"] == 0 and a.attrs["cells_without_iris"] == 0
    c = allocate_iris_to_cells(cells.assign(geometry=_cells_at([4_000_050, 3_999_500, 4_000_700], [3_000_500] * 3,
                                                               [10, 30, 10]).geometry), census, contours,
                               method="centre")
    np.testing.assert_allclose(c["census_households"], [100 * 10 / 40, 100 * 30 / 40, 50.0], rtol=1e-9)
    assert c["census_households"].sum() == pytest.approx(150.0, rel=1e-12)
    with pytest.raises(ValidationError, match="areal"):
        allocate_iris_to_cells(cells, census, contours, method="nearest")


def test_allocation_conserves_households_on_the_demo(tmp_path):
    from access.region.sources import read_filosofi
    from access.synth.demo import make_demo_region

    p = make_demo_region(tmp_path / "d")
    cells = read_filosofi(p["filosofi"])
    census, contours = read_census_logement(p["census"]), read_iris_contours(p["iris"])
    assert census.attrs["vintage"] == 2021 and set(census["iris"]) == set(contours["iris"])
    for method in ("areal", "centre"):
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # every cell lies in an IRIS: no warning
            a = allocate_iris_to_cells(cells, census, contours, method=method)
        tot = census["households"].sum()
        assert a["census_households"].sum() == pytest.approx(a.attrs["households_in_cells"], rel=1e-12)
        assert a.attrs["households_in_cells"] + a.attrs["households_outside"] == pytest.approx(tot, rel=1e-12)
        assert a["households_no_car"].sum() <= a["census_households"].sum()
        s = a["share_no_car"].to_numpy()
        assert np.isfinite(s).all() and ((s >= 0) & (s <= 1)).all()
    # a subset of cells: the IRIS with no cell keep their households out, the rest is conserved
    sub = cells.iloc[: len(cells) // 3]
    a = allocate_iris_to_cells(sub, census, contours)
    assert a.attrs["households_outside"] > 0
    assert a["census_households"].sum() + a.attrs["households_outside"] == pytest.approx(census["households"].sum())


def test_recipe_accepts_census_and_iris_sources(tmp_path):
    from access.region.recipe import SOURCE_KINDS, Recipe
    from access.synth.demo import make_demo_region

    assert {"census", "iris"} <= set(SOURCE_KINDS)
    p = make_demo_region(tmp_path / "d")
    r = Recipe.from_file(p["recipe"])
    assert [s.name for s in r.enabled_sources("census")] == ["census_logement"]
    assert [s.name for s in r.enabled_sources("iris")] == ["iris"]


def test_ign_contours_iris_7z_layout_extracted_and_read(tmp_path):
    """IGN's CONTOURS-IRIS France .7z (nested delivery folders, one CONTOURS-IRIS.shp per territory, each in its
    own CRS): the recipe's path pattern takes the Lambert-93 shapefile out with its sidecars (py7zr, no 7-Zip
    program), the loader reads CODE_IRIS / INSEE_COM, and a bounding box reads only the region's IRIS."""
    from access.region.fetch import extract_member
    from access.synth.writers import write_contours_iris_7z

    g = _square_iris(tmp_path)
    g = g.assign(NOM_COM="Desvres", IRIS=g["CODE_IRIS"].str.slice(5), TYP_IRIS="H")
    arc = tmp_path / "CONTOURS-IRIS_3-0__SHP__FRA_2023-01-01.7z"
    write_contours_iris_7z(g, arc)
    import py7zr

    with py7zr.SevenZipFile(arc) as z:
        names = z.getnames()
    shp = [n for n in names if n.endswith("CONTOURS-IRIS.shp")]
    assert len(shp) == 2 and any("LAMB93_FXX-ED2023-01-01/" in n for n in shp)
    assert all(n.startswith("CONTOURS-IRIS_3-0__SHP__FRA_2023-01-01/CONTOURS-IRIS/1_DONNEES_LIVRAISON_")
               for n in shp)
    with pytest.raises(InputFileError, match="2 members matching"):  # the base name alone is ambiguous
        extract_member(arc, "CONTOURS-IRIS.shp", tmp_path / "x.shp")
    out = extract_member(arc, "*/CONTOURS-IRIS_3-0_SHP_LAMB93_FXX-*/CONTOURS-IRIS.shp",
                         tmp_path / "iris__CONTOURS-IRIS.shp")
    assert {p.suffix for p in tmp_path.glob("iris__CONTOURS-IRIS.*")} == {".shp", ".shx", ".dbf", ".prj", ".cpg"}
    c = read_iris_contours(out)
    assert c["iris"].tolist() == ["621190101", "621190102"] and c["commune"].tolist() == ["62119"] * 2
    assert c.crs.to_epsg() == 4326
    np.testing.assert_allclose(c.to_crs(3035).area, g.to_crs(3035).area, rtol=1e-9)
    b = c.total_bounds
    assert len(read_iris_contours(out, bbox=(b[0] - 0.01, b[1], b[2], b[3]))) == 2
    assert len(read_iris_contours(out, bbox=(b[0] - 0.2, b[1], b[0] - 0.1, b[3]))) == 0  # ~7 km west: none read
    with pytest.raises(InputFileError, match="no '"):
        extract_member(arc, "*/NOPE/CONTOURS-IRIS.shp", tmp_path / "y.shp")


@pytest.mark.parametrize("src, match", [
    ('kind = "census"\nformat = "gpkg"\n', "for kind 'census'"),
    ('kind = "iris"\nformat = "csv"\n', "for kind 'iris'"),
    ('kind = "iris"\nformat = "7z"\n', "extract"),
    ('kind = "iris"\nformat = "7z"\nextract = "*/FXX*/*.shp"\n', "file name"),
    ('kind = "bpe"\nformat = "7z"\nextract = "x.csv"\n', "'7z' archives"),
    ('kind = "census"\nformat = "zip"\nextrac = "x"\n', "did you mean `extract`"),
])
def test_recipe_is_strict_about_census_and_iris_sources(tmp_path, src, match):
    import tomllib

    from access.region.recipe import Recipe

    text = open("networks/hauts-de-france.toml", encoding="utf-8").read()
    data = tomllib.loads(text)
    data["sources"]["bad"] = {**tomllib.loads(src), "url": "https://example.org/f", "licence": "LO 2.0"}
    with pytest.raises(ValidationError, match=match):
        Recipe.from_dict(data)
    r = Recipe.from_file("networks/hauts-de-france.toml")
    assert r.sources["census_logement"].format == "zip" and r.sources["iris"].format == "7z"
    assert r.sources["iris"].extracted_name == "iris__CONTOURS-IRIS.shp"
