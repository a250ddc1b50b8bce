"""The JUnit XML view, read back as CI reads it (junitparser) and as plain XML."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import pytest
from junitparser import Failure, JUnitXml, TestSuite
from report_factory import cells_report, make_report

from specrunner.report.junit import render_junit
from specrunner.report.records import OutcomeName

HOSTILE = "<img src=x onerror=alert(1)>"


def suites(text: str) -> list[TestSuite]:
    return list(JUnitXml.fromstring(text))


def properties(element: ET.Element) -> dict[str, str]:
    found = element.find("properties")
    assert found is not None
    return {p.attrib["name"]: p.attrib["value"] for p in found.findall("property")}


def cases_by_id(root: ET.Element) -> dict[tuple[str, str], ET.Element]:
    return {(c.attrib["classname"], c.attrib["name"]): c for c in root.iter("testcase")}


def test_counts_as_junitparser_reads_them() -> None:
    (suite,) = suites(render_junit(cells_report()))
    assert suite.name == "checkout-cells"
    assert (suite.tests, suite.failures, suite.errors, suite.skipped) == (6, 4, 0, 0)
    assert suite.timestamp == "2026-11-21T06:46:02Z"
    assert suite.time == pytest.approx(966.5)
    cases = list(suite)
    assert len(cases) == 6
    passed = [(c.classname, c.name) for c in cases if c.is_passed]
    assert passed == [("order-pizza", "locale=en-US"), ("refund-request", "payment=card")]


def test_failure_messages_and_text() -> None:
    (suite,) = suites(render_junit(cells_report()))
    failures = {
        (case.classname, case.name): result
        for case in suite
        for result in case.result
        if isinstance(result, Failure)
    }
    assert {key: f.message for key, f in failures.items()} == {
        ("order-pizza", "locale=es-ES"): "1 of 3 runs passed; expect pass_rate 1",
        ("refund-request", "payment=voucher"): "1 of 3 runs passed; expect min_passes 2",
        ("large-family-order", "large-family-order"): "0 of 2 runs passed; expect pass_rate 0.5",
        (HOSTILE, "note=a|b `code` @octocat"): "0 of 2 runs passed; expect pass_rate 0.66",
    }
    voucher = failures[("refund-request", "payment=voucher")]
    assert voucher.type == "expect"
    assert voucher.text is not None
    assert voucher.text.splitlines() == [
        "repeat 1 (key 000ac0ffee00000a): passed",
        "repeat 2 (key 000bc0ffee00000b): error - Cekura: the run ended timeout",
        "repeat 3 (key 000cc0ffee00000c): error - Cekura: agent crashed: Traceback (most "
        "recent call last) KeyError: 'order_id'",
    ]
    es = failures[("order-pizza", "locale=es-ES")].text
    assert es is not None
    assert es.splitlines()[1] == (
        "repeat 2 (key 0005c0ffee000005): failed - The agent did not confirm the order. "
        "It hung up early."
    )


def test_a_cell_without_matrix_is_named_after_its_scenario() -> None:
    root = ET.fromstring(render_junit(cells_report()))
    assert ("large-family-order", "large-family-order") in cases_by_id(root)


def test_cekura_ids_are_properties() -> None:
    report = cells_report()
    root = ET.fromstring(render_junit(report))
    case = cases_by_id(root)[("order-pizza", "locale=es-ES")]
    assert properties(case) == {
        "scenario_id": "31",
        "flaky": "true",
        "run.0004c0ffee000004.run_id": "2004",
        "run.0004c0ffee000004.result_id": "701",
        "run.0005c0ffee000005.run_id": "2005",
        "run.0005c0ffee000005.result_id": "701",
        "run.0006c0ffee000006.run_id": "2006",
        "run.0006c0ffee000006.result_id": "701",
    }
    # A run never sent has no ids; an id from the environment stays masked.
    unsent = properties(cases_by_id(root)[("large-family-order", "large-family-order")])
    assert unsent == {
        "scenario_id": "***",
        "run.000dc0ffee00000d.run_id": "2013",
        "run.000dc0ffee00000d.result_id": "703",
    }
    suite = root.find("testsuite")
    assert suite is not None
    assert properties(suite) == {
        "suite.file": "specs/cells.yaml",
        "environment": "staging",
        "git.commit": "e319607a1b2c3d4e5f60718293a4b5c6d7e8f901",
        "specrunner": "0.1.0",
    }


def test_hostile_names_and_errors_are_escaped() -> None:
    text = render_junit(cells_report())
    assert HOSTILE not in text
    assert "]]>" not in text, "a CDATA end in an error must not appear raw"
    assert "<script" not in text
    root = ET.fromstring(text)
    case = cases_by_id(root)[(HOSTILE, "note=a|b `code` @octocat")]
    failure = case.find("failure")
    assert failure is not None and failure.text is not None
    lines = failure.text.splitlines()
    assert lines[0] == (
        "repeat 1 (key 000fc0ffee00000f): failed - Said ]]> and <script>alert(1)</script> | "
        "pipes | and `ticks` line two\\x1b[31m red"
    )
    assert lines[1] == (
        'repeat 2 (key 0010c0ffee000010): error - ]]><![CDATA[ boom ]]> & <tag attr="x">'
        "\\x00\\x07 @here second line | cell"
    )


def test_characters_xml_cannot_hold_are_replaced() -> None:
    report = make_report([["failed"]])
    report["cells"][0]["scenario"] = "bell\x07 nul\x00 esc\x1b"
    report["suite"]["name"] = "suite\x0b"
    text = render_junit(report)
    root = ET.fromstring(text)  # would raise on a raw control character
    (case,) = root.iter("testcase")
    assert case.attrib["classname"] == "bell\ufffd nul\ufffd esc\ufffd"
    assert root.attrib["name"] == "suite\ufffd"
    assert suites(text)[0].name == "suite\ufffd"


def test_times_are_left_out_when_no_duration_is_known() -> None:
    root = ET.fromstring(render_junit(make_report([["passed", "error"]], duration=None)))
    assert "time" not in root.attrib
    assert all("time" not in e.attrib for e in root.iter() if e.tag != "property")


def test_times_add_up_the_known_durations() -> None:
    root = ET.fromstring(
        render_junit(make_report([["passed", "error"], ["failed"]], duration=1.25))
    )
    assert root.attrib["time"] == "2.500"
    assert [c.attrib["time"] for c in root.iter("testcase")] == ["1.250", "1.250"]


def test_an_empty_report() -> None:
    text = render_junit(make_report([]))
    (suite,) = suites(text)
    assert (suite.tests, suite.failures) == (0, 0)
    assert list(suite) == []


@pytest.mark.parametrize("cells", [[["passed"]], [["failed", "failed"]]])
def test_the_output_is_an_xml_document(cells: list[list[OutcomeName]]) -> None:
    text = render_junit(make_report(cells))
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<testsuites ')
    assert text.endswith("</testsuites>\n")
    root = ET.fromstring(text.encode("utf-8"))
    attrs: dict[str, Any] = dict(root.attrib)
    assert attrs["tests"] == str(len(cells))
