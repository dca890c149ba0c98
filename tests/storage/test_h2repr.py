"""The shortened hyperframe payload repr says exactly what hyperframe's own says."""

from __future__ import annotations

from hyperframe.frame import DataFrame
from twisted.trial.unittest import TestCase

from kubeapi.storage.etcd import grpc, h2repr


class ShortReprTests(TestCase):
    def test_same_text_for_every_length(self) -> None:
        for n in [*range(0, 40), 16384]:
            data = bytes(range(256))[:n] * (1 if n <= 256 else 64)
            self.assertEqual(h2repr.short_data_repr(data), h2repr.original(data), n)
        self.assertEqual(h2repr.short_data_repr(None), h2repr.original(None))

    def test_installed_for_frames(self) -> None:
        from hyperframe import frame as hyperframe

        self.assertIsNotNone(grpc)  # importing the gRPC client installs it
        self.assertIs(hyperframe._raw_data_repr, h2repr.short_data_repr)
        self.assertEqual(repr(DataFrame(1, data=b"\x01" * 16384)),
                         "DataFrame(stream_id=1, flags=[]): <hex:01010101010101010101...>")
