#!/usr/bin/env python3
"""Checks the inventory exports the page downloads, with parsers nobody on this project wrote.

    check_exports.py ics FILE   the reminders: RFC 5545 (https://www.rfc-editor.org/rfc/rfc5545)
                                parsed by `icalendar`; prints
                                {"events": [{"uid", "summary", "description", "dtstart",
                                "dtstamp" (ISO 8601), "alarms": ["-P30D", ...]}, ...]}
    check_exports.py csv FILE   the inventory CSV: RFC 4180 (https://www.rfc-editor.org/rfc/rfc4180)
                                parsed by Python's `csv` (strict); prints the rows as a JSON list
                                of objects keyed by the header

Exits 1 with a message on stderr at the first violation. Run it with the interpreter of
tests/interop/.venv (pinned `icalendar` there), e.g. PYTHON=tests/interop/.venv/bin/python.
"""

import csv
import io
import json
import sys


# The components a reminders file may hold.
KNOWN = {"VCALENDAR", "VEVENT", "VALARM"}


class Violation(Exception):
    pass


def require(condition, message):
    if not condition:
        raise Violation(message)


def physical_lines(data: bytes, what: str):
    """Lines of `data`, checking every one ends with CRLF and no CR or LF stands alone."""
    require(data.endswith(b"\r\n"), f"{what}: the last line does not end with CRLF")
    lines = data[:-2].split(b"\r\n")
    for n, line in enumerate(lines, 1):
        require(b"\r" not in line and b"\n" not in line, f"{what}: line {n} has a bare CR or LF")
    return lines


def check_ics(data: bytes):
    from icalendar import Calendar

    require(not data.startswith(b"\xef\xbb\xbf"), "ics: starts with a byte order mark")
    for n, line in enumerate(physical_lines(data, "ics"), 1):
        # RFC 5545 3.1: lines SHOULD NOT be longer than 75 octets, excluding the line break.
        require(len(line) <= 75, f"ics: line {n} is {len(line)} octets (at most 75): {line[:80]!r}")
        try:
            line.decode("utf-8")
        except UnicodeDecodeError as e:
            raise Violation(f"ics: line {n} is not UTF-8 on its own (folded inside a character): {e}")
    try:
        calendar = Calendar.from_ical(data.decode("utf-8"))
    except Exception as e:  # icalendar raises ValueError and friends
        raise Violation(f"ics: icalendar refused it: {e}")
    require(calendar.name == "VCALENDAR", f"ics: top component is {calendar.name}")
    require(str(calendar.get("VERSION", "")) == "2.0", "ics: VERSION is not 2.0")
    require(str(calendar.get("PRODID", "")).strip() != "", "ics: no PRODID")
    events = []
    uids = set()
    for component in calendar.walk():
        errors = getattr(component, "errors", [])
        require(not errors, f"ics: {component.name} has errors: {errors}")
        require(component.name in KNOWN, f"ics: unexpected component {component.name}")
        if component.name != "VEVENT":
            continue
        for prop in ("UID", "DTSTAMP", "DTSTART"):
            require(prop in component, f"ics: a VEVENT without {prop}")
        uid = str(component["UID"])
        require(uid not in uids, f"ics: UID {uid} twice")
        uids.add(uid)
        require(
            not ("DTEND" in component and "DURATION" in component),
            f"ics: {uid} has both DTEND and DURATION",
        )
        alarms = []
        for alarm in component.subcomponents:
            if alarm.name != "VALARM":
                continue
            for prop in ("ACTION", "TRIGGER", "DESCRIPTION"):
                require(prop in alarm, f"ics: an alarm of {uid} without {prop}")
            alarms.append(alarm["TRIGGER"].to_ical().decode())
        events.append(
            {
                "uid": uid,
                "summary": str(component.get("SUMMARY", "")),
                "description": str(component.get("DESCRIPTION", "")),
                "dtstart": component.decoded("DTSTART").isoformat(),
                "dtstamp": component.decoded("DTSTAMP").isoformat(),
                "alarms": alarms,
            }
        )
    return {"events": events}


def check_csv(data: bytes):
    text = data.decode("utf-8")
    require(text.startswith("\ufeff"), "csv: no UTF-8 byte order mark")
    text = text[1:]
    # RFC 4180 2: records end with CRLF (the last one too); a field is quoted whole or not at
    # all; inside quotes a quote is doubled; CR, LF, comma and quote appear only inside quotes.
    quoted, at_start, i = False, True, 0
    while i < len(text):
        c = text[i]
        if quoted:
            if c == '"':
                if text.startswith('""', i):
                    i += 1
                else:
                    quoted = False
                    require(
                        i + 1 == len(text) or text[i + 1] in ",\r",
                        f"csv: text after a closing quote at offset {i}",
                    )
        elif c == '"':
            require(at_start, f"csv: a quote inside an unquoted field at offset {i}")
            quoted = True
        elif c == "\r":
            require(text.startswith("\r\n", i), f"csv: CR without LF at offset {i}")
            i += 1
        else:
            require(c != "\n", f"csv: LF without CR at offset {i}")
        at_start = not quoted and c in ",\r"
        i += 1
    require(not quoted, "csv: unterminated quoted field")
    require(text.endswith("\r\n"), "csv: the last record does not end with CRLF")
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), strict=True))
    except csv.Error as e:
        raise Violation(f"csv: {e}")
    require(rows, "csv: empty")
    header = rows[0]
    require(len(set(header)) == len(header), f"csv: repeated column in {header}")
    out = []
    for n, row in enumerate(rows[1:], 2):
        require(len(row) == len(header), f"csv: record {n} has {len(row)} fields, the header {len(header)}")
        out.append(dict(zip(header, row)))
    return out


def main(argv):
    if len(argv) != 3 or argv[1] not in ("ics", "csv"):
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[2], "rb") as f:
        data = f.read()
    try:
        result = check_ics(data) if argv[1] == "ics" else check_csv(data)
    except Violation as e:
        print(str(e), file=sys.stderr)
        return 1
    json.dump(result, sys.stdout, ensure_ascii=False, indent=1)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
