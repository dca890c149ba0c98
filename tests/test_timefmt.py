"""The shared Go-duration and age helpers, as flags, ?timeout= and the protobuf codec see them."""

from __future__ import annotations

from datetime import UTC, datetime

from twisted.trial import unittest

from kubeapi import timefmt
from kubeapi.errors import StatusError
from kubeapi.server.filters.timeout import effective_timeout


class DurationTests(unittest.TestCase):
    def test_nanosecond_exact(self) -> None:
        for text, ns in [("1h2m3.5s", 3_723_500_000_000), ("1.000000001s", 1_000_000_001),
                         ("-1.5h", -5_400_000_000_000), ("1µs", 1_000), ("1μs", 1_000), ("0", 0),
                         ("+0", 0), (".5ms", 500_000), ("1.s", 1_000_000_000),
                         ("2562047h", 2562047 * 3_600_000_000_000)]:
            self.assertEqual(timefmt.parse_duration_ns(text), ns, text)

    def test_rejects_what_go_rejects(self) -> None:
        for text in ["", "+", "1", "5x", ".s", "1 s", " 1s"]:
            with self.assertRaises(ValueError, msg=text) as cm:
                timefmt.parse_duration_ns(text)
            self.assertEqual(str(cm.exception), f'time: invalid duration "{text}"')

    def test_seconds_form_forgives_blanks_and_quotes_the_input(self) -> None:
        self.assertEqual(timefmt.parse_duration(" 1m30s "), 90.0)
        self.assertEqual(timefmt.parse_duration("250ms"), 0.25)
        with self.assertRaises(ValueError) as cm:
            timefmt.parse_duration(" 5 minutes")
        self.assertEqual(str(cm.exception), 'time: invalid duration " 5 minutes"')

    def test_query_timeout_message(self) -> None:
        self.assertEqual(effective_timeout(60.0, "5s"), 5.0)
        self.assertEqual(effective_timeout(60.0, "2m"), 60.0)
        with self.assertRaises(StatusError) as cm:
            effective_timeout(60.0, "5x")
        self.assertEqual((cm.exception.code, cm.exception.message), (400, 'time: invalid duration "5x"'))

    def test_format_round_trips(self) -> None:
        for text in ["0s", "1.5s", "2m0s", "1h0m0s", "300ms", "1µs", "7ns", "-1h2m3.000000004s"]:
            self.assertEqual(timefmt.format_duration(timefmt.parse_duration_ns(text)), text)


class AgeTests(unittest.TestCase):
    NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)

    def test_age(self) -> None:
        self.assertEqual(timefmt.age("2024-05-01T11:56:50Z", self.NOW), "3m10s")
        self.assertEqual(timefmt.age("2024-04-29T08:00:00+00:00", self.NOW), "2d4h")
        self.assertEqual(timefmt.age(None, self.NOW), "<unknown>")
        self.assertEqual(timefmt.age("yesterday", self.NOW), "<unknown>")

    def test_a_timestamp_without_zone_is_utc(self) -> None:
        self.assertEqual(timefmt.parse_time("2024-05-01T11:00:00"), datetime(2024, 5, 1, 11, tzinfo=UTC))
        self.assertEqual(timefmt.age("2024-05-01T11:00:00", self.NOW), "60m")
