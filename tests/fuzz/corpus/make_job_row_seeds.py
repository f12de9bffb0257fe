#!/usr/bin/env python3
"""Writes the job_row_fuzzer seeds: stored rows as real runs leave them, encoded the way the
fuzzer's FuzzedDataProvider reads them (numbers from the end, strings from the front, each ended
by a backslash and one other byte, the output column last)."""
import json
import os
import struct


def msgpack(v):
    """The few MessagePack forms the output column uses."""
    if v is None:
        return b"\xc0"
    if isinstance(v, bool):
        return b"\xc3" if v else b"\xc2"
    if isinstance(v, int):
        return (b"\xcf" + struct.pack(">Q", v)) if v >= 0 else (b"\xd3" + struct.pack(">q", v))
    if isinstance(v, str):
        b = v.encode()
        return b"\xda" + struct.pack(">H", len(b)) + b
    if isinstance(v, list):
        return b"\xdc" + struct.pack(">H", len(v)) + b"".join(msgpack(x) for x in v)
    raise TypeError(v)


def text(s):
    return s.encode().replace(b"\\", b"\\\\") + b"\\;"


def row(spec, state, result="", steps="", key="", error=None, output=b"", attempts=1):
    front = text(json.dumps(spec)) + text(result) + text(steps) + text(key)
    if error:
        front += text(error[0]) + text(error[1])
    consumed = (struct.pack(">Q", 7) + bytes([state]) + struct.pack(">i", attempts) +
                struct.pack(">q", 1764650000000) + struct.pack(">q", 1764650000100) +
                struct.pack(">q", 1764650000200) + bytes([1 if error else 0]))
    return front + output + consumed[::-1]


seeds = {
    "pending_value": row({"value": 42}, 0),
    "done_gather": row({"gather": [{"sleep": 0, "name": "a"}, {"value": [1, 2]}]}, 2, "[null,[1,2]]",
                       json.dumps([["done", None, None, "", 1, 2], ["done", None, None, "", 1, 2],
                                   ["done", [1, 2], None, "", 1, 2]])),
    "failed_retry": row({"fail": "boom", "retries": 2}, 3, "null",
                        json.dumps([["failed", None, "RuntimeError", "boom", 1, 2]]),
                        "key-1", ("RuntimeError", "boom"), attempts=3),
    "exec_output": row({"exec": ["sh", "-c", "echo hi"], "env": {"A": "b"}}, 2, "0",
                       json.dumps([["done", 0, None, "", 1, 2]]),
                       output=msgpack([[0, 1234, 0, 0, ["hi\n", None, 3], ["", None, 0]]])),
    "exec_truncated": row({"sequence": [{"exec": ["yes"]}, {"value": 1}]}, 4, "null",
                          json.dumps([["cancelled", None, "CancelledError", "", 1, 2],
                                      ["cancelled", None, "CancelledError", "", 1, 2],
                                      ["pending", None, None, "", 0, 0]]),
                          error=("CancelledError", ""),
                          output=msgpack([[1, 99, None, 15, ["y\n" * 8, "y\n", 1 << 30],
                                           ["", None, 0]]])),
}
here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "job_row")
os.makedirs(here, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(here, name), "wb") as f:
        f.write(data)
