"""Malformed, truncated or implausible files give a clear error naming file, line and column;
a user's own long-format CSV is read and checked the same way and round-trips."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from carespiral import data
from carespiral.errors import FileFormatError

C1 = "c1_children_in_need_referrals_and_rereferrals_2013_to_2023.csv"


def edit_line(path: Path, line: int, old: str, new: str) -> None:
    lines = path.read_text(encoding="utf-8-sig").splitlines(keepends=True)
    assert old in lines[line - 1]
    lines[line - 1] = lines[line - 1].replace(old, new, 1)
    path.write_text("".join(lines), encoding="utf-8")


def test_copy_of_shipped_files_reads_identically(data_copy, table):
    again = data.read_published(data_copy).table
    pd.testing.assert_series_equal(again["value"], table["value"], check_names=False)


def test_truncated_file_names_file_line_and_column(data_copy):
    path = data_copy / "dfe" / C1
    text = path.read_text(encoding="utf-8-sig")
    cut = text[: text.index("\n", 5000) - 20]  # stop in the middle of a row
    path.write_text(cut, encoding="utf-8")
    n_lines = cut.count("\n") + 1
    with pytest.raises(FileFormatError) as e:
        data.read_published(data_copy)
    msg = str(e.value)
    assert C1 in msg and f"line {n_lines}" in msg and "column" in msg and "truncated" in msg


def test_unknown_marker_names_file_line_and_column(data_copy):
    # line 2 is England 2023: referral_count 640430
    edit_line(data_copy / "dfe" / C1, 2, ",640430,", ",n/a,")
    with pytest.raises(FileFormatError,
                       match=rf"{C1}, line 2, column referral_count: value 'n/a' is neither"):
        data.read_published(data_copy)


def test_bracketed_marker_is_accepted_as_missing(data_copy):
    edit_line(data_copy / "dfe" / C1, 2, ",640430,", ",[c],")
    t = data.read_published(data_copy).table
    r = t[(t["series"] == "referrals") & (t["area_code"] == "E92000001") & (t["year"] == 2023)
          & (t["variant"] == "")].iloc[0]
    assert np.isnan(r["value"]) and r["note"].startswith("c:")


def test_rate_above_100_is_rejected(data_copy):
    edit_line(data_copy / "dfe" / C1, 2, ",22.4,", ",224,")
    with pytest.raises(FileFormatError, match=r"line 2, column value: re_referral_rate = 224%"):
        data.read_published(data_copy)


def test_negative_count_is_rejected(data_copy):
    edit_line(data_copy / "dfe" / C1, 2, ",640430,", ",-640430,")
    with pytest.raises(FileFormatError, match=r"line 2, column value: .*cannot be negative"):
        data.read_published(data_copy)


def test_duplicate_row_is_rejected(data_copy):
    path = data_copy / "dfe" / C1
    lines = path.read_text(encoding="utf-8-sig").splitlines(keepends=True)
    lines.append(lines[5])
    path.write_text("".join(lines), encoding="utf-8")
    with pytest.raises(FileFormatError, match=rf"{C1}, line {len(lines)}.*duplicate .*line 6"):
        data.read_published(data_copy)


def test_missing_column_and_bad_level(data_copy):
    path = data_copy / "dfe" / C1
    edit_line(path, 1, "rereferral_percent", "rereferral_pct")
    with pytest.raises(FileFormatError, match=r"line 1: missing column\(s\) rereferral_percent"):
        data.read_published(data_copy)
    edit_line(path, 1, "rereferral_pct", "rereferral_percent")
    edit_line(path, 3, "Regional", "County")
    with pytest.raises(FileFormatError, match=r"line 3, column geographic_level: 'County'"):
        data.read_published(data_copy)


USER = """area_code,area_name,series,date,period_start,value,unit,note
E09000014,Haringey,referrals,2023-04-30,2023-04-01,301,count,
E09000014,Haringey,referrals,2023-05-31,2023-05-01,[c],count,small month
E09000014,Haringey,re_referral_rate,2023-05-31,2023-05-01,19.5,%,
E09000014,Haringey,open_cases,2023-05-31,,812,count,
"""


def test_user_csv_monthly_figures(tmp_path):
    p = tmp_path / "mine.csv"
    p.write_text(USER)
    t = data.load_csv(p)
    assert list(t.columns) == data.COLUMNS
    assert t["value"].iloc[0] == 301 and t["kind"].iloc[0] == "flow"
    assert t["period_start"].iloc[0] == pd.Timestamp("2023-04-01")
    assert np.isnan(t["value"].iloc[1]) and t["note"].iloc[1] == "c: suppressed to protect " \
        "confidentiality; small month"
    assert t["kind"].iloc[3] == "stock" and t["period_start"].iloc[3] == pd.Timestamp("2023-05-31")
    assert (t["level"] == "la").all() and (t["line"] == [2, 3, 4, 5]).all()


@pytest.mark.parametrize(("edit", "match"), [
    (("19.5,%", "19.5,percent"), r"line 4, column unit: unit 'percent' for series "
                                 r"'re_referral_rate'; expected '%'"),
    (("2023-05-31,2023-05-01,19.5", "31/05/2023,2023-05-01,19.5"),
     r"line 4, column date: date '31/05/2023' is not a date"),
    ((",301,", ",3o1,"), r"line 2, column value: value '3o1'"),
    (("19.5,%", "119.5,%"), r"line 4, column value: re_referral_rate = 119.5%"),
    (("E09000014,Haringey,open_cases", "E09000014,Haringey,referrals"), r"duplicate"),
])
def test_user_csv_errors(tmp_path, edit, match):
    p = tmp_path / "mine.csv"
    text = USER.replace(*edit)
    if match == "duplicate":  # a second April figure
        text += "E09000014,Haringey,referrals,2023-04-30,2023-04-01,300,count,\n"
    p.write_text(text)
    with pytest.raises(FileFormatError, match=match):
        data.load_csv(p)


def test_user_csv_missing_columns_and_file(tmp_path):
    p = tmp_path / "mine.csv"
    p.write_text("area,series,value\nX,referrals,1\n")
    with pytest.raises(FileFormatError, match=r"line 1: missing column\(s\) area_code, date"):
        data.load_csv(p)
    with pytest.raises(FileFormatError, match="no such file"):
        data.load_csv(tmp_path / "absent.csv")


def test_round_trip_through_csv(tmp_path):
    t = data.load(area="haringey", include_variants=True)
    p = tmp_path / "haringey.csv"
    t.drop(columns=["file", "line"]).to_csv(p, index=False, date_format="%Y-%m-%d")
    back = data.load_csv(p)
    assert len(back) == len(t) > 500
    for col in ("area_code", "series", "variant", "unit", "kind", "period", "confidence"):
        assert back[col].tolist() == t[col].tolist(), col
    for col in ("date", "period_start", "period_end"):
        assert (back[col].to_numpy() == t[col].to_numpy()).all(), col
    np.testing.assert_array_equal(back["value"].to_numpy(), t["value"].to_numpy())
    assert back["note"].tolist() == t["note"].tolist()
