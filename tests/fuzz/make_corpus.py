#!/usr/bin/env python3
"""Writes the seed corpus of the fuzz targets: tests/fuzz/corpus/<target>/.

One small file per SPEC edge, named after it, in the input formats that
fuzz_proto_reader.c and fuzz_session.c describe at their top. The files are
kept in the repository; run this again after changing a format:
    python3 tests/fuzz/make_corpus.py
(the fuzzers' own finds are merged in with scripts/fuzz.sh --merge).
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
ECHO, STATS, ERROR = 1, 2, 3


def header(length, ftype, flags=0):
    return struct.pack(">IHH", length, ftype, flags)


def frame(ftype, payload=b""):
    return header(len(payload), ftype) + payload


# ---- proto_reader: [n][n chunk sizes][stream] ----

def reader(sizes, stream):
    return bytes([len(sizes)] + list(sizes)) + stream


READER = {
    "echo_zero": reader([], frame(ECHO)),
    "echo_bytes_one_at_a_time": reader([1], frame(ECHO, b"hi\x00there") + frame(ECHO, b"x")),
    "split_header_3_5": reader([3, 5, 2], frame(ECHO, b"0123456789")),
    "empty_chunks": reader([0, 4, 0, 0, 7], frame(ECHO, b"abc") + frame(STATS)),
    "max_length_header": reader([8, 200], header(65536, ECHO) + b"p" * 300),
    "too_large": reader([], header(65537, ECHO) + b"zz"),
    "length_all_ones": reader([2], header(0xFFFFFFFF, ECHO)),
    "type_zero": reader([], header(0, 0)),
    "type_error_from_client": reader([], frame(ERROR, b"no")),
    "type_four": reader([], header(1, 4) + b"q"),
    "type_high_byte": reader([5], header(0, 0x0101)),
    "flags_set": reader([], header(2, ECHO, 1) + b"ab"),
    "stats": reader([], frame(STATS)),
    "stats_with_payload": reader([], header(4, STATS) + b"abcd"),
    "coalesced": reader([], frame(ECHO, b"a") + frame(STATS) + frame(ECHO) + frame(ECHO, b"z" * 40)),
    "error_after_frames": reader([6, 1, 9], frame(ECHO, b"ok") + frame(STATS) + header(0, 9) + frame(ECHO)),
    "partial_payload": reader([16], header(20, ECHO) + b"short"),
    "partial_header": reader([], b"\x00\x00\x01"),
}

# ---- session: 6 setting bytes, then operations (fuzz_session.c) ----

LIMIT = {1: 0, 8: 1, 100: 2, 1000: 3, 8192: 4, 70000: 5, 262144: 6, 1048576: 7}
NO_FAIL = 255


def settings(limit=262144, stats_len=40, iovs=8, fail=NO_FAIL, tail=255):
    return bytes([LIMIT[limit], stats_len >> 8, stats_len & 255, iovs - 1, fail, tail])


def op_bytes(data):
    return bytes([0, len(data) - 1]) + data


def op_frame(t, len16, flags=None):
    return bytes([1, t, len16 >> 8, len16 & 255]) + (bytes([flags]) if flags is not None else b"")


def op_deliver(n):
    return bytes([2, (n - 1) >> 8, (n - 1) & 255])


def op_send(n=0):
    return bytes([3, n >> 8, n & 255])


POST, EOF, ABORT = bytes([4]), bytes([6]), bytes([7])


def op_complete(n=0):
    return bytes([5, n >> 8, n & 255])


def echo(n):
    return op_frame(ECHO, n)


SESSION = {
    "echo_zero": settings() + echo(0) + op_deliver(8) + op_send() + EOF,
    "echo_one": settings() + echo(1) + op_deliver(9) + op_send() + EOF,
    "echo_max": settings() + op_frame(0x21, 1) + op_deliver(65536) + op_deliver(8) + op_send(),
    "echo_max_byte_steps": settings(tail=0) + op_frame(0x21, 1),
    "too_large": settings() + op_frame(0x21, 2) + op_deliver(100),
    "type_zero": settings() + op_frame(0, 0) + op_deliver(8),
    "type_error_from_client": settings() + op_frame(ERROR, 5) + op_deliver(13),
    "type_high_byte": settings() + op_frame(0x81, 0) + op_deliver(8),
    "type_four": settings() + op_bytes(header(0, 4)) + op_deliver(8),
    "length_all_ones": settings() + op_bytes(header(0xFFFFFFFF, ECHO)) + op_deliver(8),
    "flags_set": settings() + op_frame(0x41, 3, flags=1) + op_deliver(11),
    "stats": settings() + op_frame(STATS, 0) + op_deliver(8) + op_send() + EOF,
    "stats_max_text": settings(stats_len=2047) + op_frame(STATS, 0) * 3 + op_deliver(24),
    "stats_with_payload": settings() + op_frame(STATS, 4) + op_deliver(12),
    "split_header": settings() + echo(10) + op_deliver(3) + op_deliver(5) + op_deliver(10),
    "coalesced": settings() + echo(5) + op_frame(STATS, 0) + echo(0) + echo(100)
                 + op_deliver(65536) + op_send(),
    "error_after_frames": settings() + echo(10) + op_frame(STATS, 0) + op_frame(0x41, 0, 7)
                          + echo(4) + op_deliver(200) + op_send(),
    "backpressure_pipeline": settings(limit=100) + echo(50) * 30 + op_deliver(200) * 12,
    "backpressure_exact_limit": settings(limit=8) + echo(0) * 3 + op_deliver(8) + op_deliver(8)
                                + op_send() + op_deliver(16),
    "backpressure_one_byte": settings(limit=1, iovs=1) + echo(3) * 5 + op_deliver(55)
                             + op_send(1) + op_deliver(55),
    "partial_payload_at_eof": settings() + echo(100) + op_deliver(50) + EOF,
    "partial_header_at_abort": settings() + op_bytes(b"\x00\x00\x00") + op_deliver(3) + ABORT,
    "abort_mid_send": settings() + echo(3000) + op_deliver(3008) + op_send(5) + ABORT,
    "half_close_replies_pending": settings() + echo(20) * 4 + op_deliver(112) + EOF + op_send(30),
    "send_pending_while_data_arrives": settings(iovs=2) + echo(300) + op_deliver(308) + POST
                                       + echo(5000) + op_deliver(5008) + op_complete(100)
                                       + op_send() + op_send(),
    "partial_sends_one_iov": settings(iovs=1, limit=1000) + echo(700) * 3 + op_deliver(2124)
                             + op_send(3) + op_send(700) + op_send(1) + op_send(),
    "no_memory_first": settings(fail=0) + echo(10) + op_deliver(18),
    "no_memory_frame_end": settings(fail=1) + op_frame(0, 0) + op_deliver(8),
    "no_memory_mid_pipeline": settings(fail=3) + echo(300) * 6 + op_deliver(4000) + op_send(),
    "no_memory_with_send_pending": settings(fail=2) + echo(100) + op_deliver(108) + POST
                                   + echo(70) * 3 + op_deliver(300) + op_complete(),
}


def write(target, files):
    folder = os.path.join(HERE, "corpus", target)
    os.makedirs(folder, exist_ok=True)
    for name, data in files.items():
        with open(os.path.join(folder, name), "wb") as f:
            f.write(data)


write("proto_reader", READER)
write("session", SESSION)
