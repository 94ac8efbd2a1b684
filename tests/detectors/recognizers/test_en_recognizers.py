from __future__ import annotations

import pytest

from detectors.recognizers.en_address_recognizer import EnAddressRecognizer
from detectors.recognizers.en_person_recognizer import EnPersonRecognizer

PERSON = EnPersonRecognizer()
ADDRESS = EnAddressRecognizer()


def spans(recognizer, text):
    return [text[s:e] for s, e, _ in recognizer.find(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Customer Emily Carter called about a double charge", ["Emily Carter"]),
        ("Spoke with James O'Brien at (415) 555-0132", ["James O'Brien"]),
        ("Complaint from Sarah McAllister: technician missed", ["Sarah McAllister"]),
        ("Thomas Müller wants the contract", ["Thomas Müller"]),
        ("Mrs. Okafor Adebayo signed", ["Okafor Adebayo"]),
        ("Callback from Steven Robinson at 206-555-0124", ["Steven Robinson"]),
        ("Mary J. Watson paid in full", ["Mary J. Watson"]),
    ],
)
def test_person_positives(text, expected):
    assert spans(PERSON, text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "The Customer Service Team will call back on Monday",
        "Invoice INV-000482 was paid via Bank Transfer",
        "New York Stock Exchange closed early",
        "Order SKU-88812 shipped to the North Warehouse",
        "客户张伟要求退款 Apple Pay",
        "",
    ],
)
def test_person_negatives(text):
    assert spans(PERSON, text) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("address 8821 Pierce Run, West James, MO 95254.", "8821 Pierce Run, West James, MO 95254"),
        ("at 77 Lake Shore Drive, Chicago, IL 60611.", "77 Lake Shore Drive, Chicago, IL 60611"),
        ("at 14 Kings Road, London SW3 4RP, 2024", "14 Kings Road, London SW3 4RP"),
        ("at 62 Grafton Street, Dublin 2.", "62 Grafton Street, Dublin 2"),
        (
            "the 220 West 57th Street, New York, NY 10019.",
            "220 West 57th Street, New York, NY 10019",
        ),
        (
            "new 81 Queen Street West, Toronto, ON M5H 2N2.",
            "81 Queen Street West, Toronto, ON M5H 2N2",
        ),
        ("ring twice, 18 Rue de Rivoli, 75004 Paris, ask", "18 Rue de Rivoli, 75004 Paris"),
        ("mailed to Friedrichstraße 43, 10117 Berlin.", "Friedrichstraße 43, 10117 Berlin"),
        (
            "to Ul. Marszałkowska 10, 00-590 Warszawa; close",
            "Ul. Marszałkowska 10, 00-590 Warszawa",
        ),
    ],
)
def test_address_positives(text, expected):
    assert spans(ADDRESS, text) == [expected]


@pytest.mark.parametrize(
    "text",
    [
        "Refund of 3200 USD approved on 2024-11-25",
        "Ticket 12 Open since Monday",
        "Version 2 Release Notes",
        "room 501, building 3",
    ],
)
def test_address_negatives(text):
    assert spans(ADDRESS, text) == []
