"""Loading OONI's blocking fingerprints, matching them, and sending them to worker processes."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from ayiq.core.errors import InputError
from ayiq.net.judge import Fingerprints, Judge, load_fingerprints

HEADER = "name,scope,other_names,location_found,pattern_type,pattern,confidence_no_fp,expected_countries,source,exp_url,notes\n"


def test_loads_folder(fingerprints: Fingerprints) -> None:
    assert len(fingerprints.dns) == 226
    assert len(fingerprints.http) == 1729


def test_single_csv(ooni: Path) -> None:
    fps = load_fingerprints(ooni / "fingerprints" / "fingerprints_dns.csv")
    assert len(fps.dns) == 226 and not fps.http


def test_matching(fingerprints: Fingerprints) -> None:
    assert [f.name for f in fingerprints.match_dns("10.10.34.36")] == ["ooni.ir_10dot10_ipv4_1"]
    assert "ooni.id_95" in [f.name for f in fingerprints.match_dns("TrustPositif.Kominfo.go.id.")]
    body = "<html>... it-security-operations@etisalat.ae ...</html>"
    assert "ooni.ae_3" in [f.name for f in fingerprints.match_body(body)]
    loc = fingerprints.match_header("Location", "http://lamanlabuh.aduankonten.id/")
    assert [f.name for f in loc] == ["ooni.id_lamanlabuh_kominfo"]
    assert fingerprints.match_body("an ordinary page about gardening") == []


def test_regexp_and_full_body(tmp_path: Path) -> None:
    p = tmp_path / "fp.csv"
    p.write_text(HEADER + "x.re,nat,,body,regexp,URL .* blocked by [A-Z]+,5,,,,\n"
                          "x.full,isp,,body,full,<HTML></HTML>,5,,,,\n", encoding="utf-8")
    fps = load_fingerprints(p)
    assert [f.name for f in fps.match_body("the URL example.org is blocked by ISP")] == ["x.re"]
    assert [f.name for f in fps.match_body("<HTML></HTML>\n")] == ["x.full"]
    assert fps.match_body("<HTML></HTML> and more") == []


def test_body_matches_in_order_of_first_occurrence(tmp_path: Path) -> None:
    """Several fingerprints in one page come back in the order they first end in it (the verdict names the
    first), each once, longest first where two end together; a lone surrogate in a page is not a crash."""
    p = tmp_path / "fp.csv"
    p.write_text(HEADER + "x.blocked,nat,,body,contains,is blocked,5,,,,\n"
                          "x.page,isp,,body,contains,this page is blocked,5,,,,\n"
                          "x.isp,isp,,body,contains,by your ISP,5,,,,\n", encoding="utf-8")
    fps = load_fingerprints(p)
    body = "by your ISP: this page is blocked (by your ISP)"
    assert [f.name for f in fps.match_body(body)] == ["x.isp", "x.page", "x.blocked"]
    assert [f.name for f in fps.match_body("\udcff this page is blocked \ud800")] == ["x.page", "x.blocked"]
    assert fps.match_header("Server", "\udcff") == []


def test_confirmation_rule(fingerprints: Fingerprints) -> None:
    by_name = {f.name: f for f in fingerprints.http}
    assert by_name["ooni.in_11"].confirms_in("IN")  # expected country
    assert not by_name["ooni.in_11"].confirms_in("IT")  # scope inst elsewhere: a hint only
    assert by_name["ooni.id_lamanlabuh_kominfo"].confirms_in("FR")  # national scope: confirmed anywhere
    assert not by_name["cp.fp_x_cloudflare_check"].confirms_in("US")  # known false positive


def test_picklable(fingerprints: Fingerprints) -> None:
    again = pickle.loads(pickle.dumps(Judge(fingerprints)))
    assert again.fingerprints is not None
    assert [f.name for f in again.fingerprints.match_dns("10.10.34.36")] == ["ooni.ir_10dot10_ipv4_1"]
    assert [f.name for f in again.fingerprints.match_body("mail it-security-operations@etisalat.ae")] == ["ooni.ae_3"]


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("a,b\n1,2\n", "missing column"),
        (HEADER + "x,nat,,body,glob,abc,5,,,,\n", "unknown pattern_type"),
        (HEADER + "x,nat,,cookie,contains,abc,5,,,,\n", "unknown location_found"),
        (HEADER + "x,nat,,body,regexp,(unclosed,5,,,,\n", "bad regexp"),
        (HEADER, "no fingerprints"),
    ],
)
def test_bad_file_names_the_file(tmp_path: Path, content: str, problem: str) -> None:
    p = tmp_path / "bad.csv"
    p.write_text(content, encoding="utf-8")
    with pytest.raises(InputError) as err:
        load_fingerprints(p)
    assert err.value.path == str(p)
    assert problem in err.value.problem


def test_missing_and_binary(tmp_path: Path) -> None:
    with pytest.raises(InputError):
        load_fingerprints(tmp_path / "nope")
    with pytest.raises(InputError):
        load_fingerprints(tmp_path)  # a folder without the CSVs
    p = tmp_path / "bin.csv"
    p.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(InputError):
        load_fingerprints(p)
