"""Hostile input, table-driven: each gets the documented 4xx JSON error, in-process and over HTTP."""

from __future__ import annotations

import gzip
import http.client
import json

import pytest

from tests.conftest import SIMPLIFIED

JSON = "application/json"


def body(payload) -> bytes:
    return json.dumps(payload, ensure_ascii=False).encode("utf-8")


CASES = [
    # (id, raw body, content type, extra headers, expected status)
    ("truncated-json", b'{"text": "\xe4\xb8\xad', JSON, {}, 400),
    ("invalid-json", b"{'text': 'single quotes'}", JSON, {}, 400),
    ("trailing-garbage", b'{"text": "x"} trailing', JSON, {}, 400),
    ("empty-body", b"", JSON, {}, 400),
    ("invalid-utf8", b'{"text": "\xff\xfe\xfd"}', JSON, {}, 400),
    ("json-array", b"[]", JSON, {}, 422),
    ("json-string", b'"text"', JSON, {}, 422),
    ("json-null", b"null", JSON, {}, 422),
    ("no-content-type", body({"text": SIMPLIFIED}), None, {}, 415),
    ("text-plain", body({"text": SIMPLIFIED}), "text/plain", {}, 415),
    ("form", b"text=abc", "application/x-www-form-urlencoded", {}, 415),
    ("multipart", b"--x\r\n\r\nabc\r\n--x--", "multipart/form-data; boundary=x", {}, 415),
    ("xml", b"<text>abc</text>", "application/xml", {}, 415),
    ("lone-surrogate", b'{"text": "\\ud800\\u4e2d\\u6587"}', JSON, {}, 422),
    ("reversed-surrogates", b'{"text": "\\udc00\\ud800"}', JSON, {}, 422),
    ("surrogate-in-heads", b'{"text": "\\u4e2d\\u6587", "heads": ["\\ud800"]}', JSON, {}, 422),
    ("surrogate-as-key", b'{"text": "\\u4e2d\\u6587", "\\udfff": 1}', JSON, {}, 422),
    ("nul-character", body({"text": "中文\u0000内容"}), JSON, {}, 422),
    ("bell-and-escape", body({"text": "中文\u0007\u001b[31m"}), JSON, {}, 422),
    ("c1-control", body({"text": "中文\u0085内容"}), JSON, {}, 422),
    ("only-punctuation", body({"text": "。，！？……——「」"}), JSON, {}, 422),
    ("only-emoji", body({"text": "😀🔥🇨🇳👍"}), JSON, {}, 422),
    ("only-zero-width", body({"text": "\u200b\u200c\u200d\ufeff"}), JSON, {}, 422),
    ("zero-width-in-list", body({"paragraphs": [SIMPLIFIED, "\u200b\u2060"]}), JSON, {}, 422),
    ("paragraph-20001", body({"paragraphs": ["中" * 20_001]}), JSON, {}, 422),
    ("text-20001", body({"text": "a" * 20_001}), JSON, {}, 422),
    ("article-line-20001", body({"article": "短句。\n" + "中" * 20_001}), JSON, {}, 422),
    ("paragraphs-257", body({"paragraphs": ["中文"] * 257}), JSON, {}, 422),
    ("body-3mib", body({"text": "中" * (1024 * 1024)}), JSON, {}, 413),
    ("nested-object", body({"text": {"text": SIMPLIFIED}}), JSON, {}, 422),
    ("nested-lists", body({"paragraphs": [[SIMPLIFIED]]}), JSON, {}, 422),
    ("deep-nesting", b'{"text": ' + b"[" * 5000 + b"]" * 5000 + b"}", JSON, {}, 400),
    ("number-for-text", body({"text": 12345}), JSON, {}, 422),
    ("numbers-in-list", body({"paragraphs": [1, 2]}), JSON, {}, 422),
    ("bool-for-heads", body({"text": SIMPLIFIED, "heads": True}), JSON, {}, 422),
    ("null-text", body({"text": None}), JSON, {}, 422),
    ("unknown-field", body({"text": SIMPLIFIED, "lang": "zh"}), JSON, {}, 422),
    ("two-inputs", body({"text": SIMPLIFIED, "article": SIMPLIFIED}), JSON, {}, 422),
    ("unknown-head", body({"text": SIMPLIFIED, "heads": ["stance", "mood"]}), JSON, {}, 422),
    ("gzip-body", gzip.compress(body({"text": SIMPLIFIED})), JSON, {"Content-Encoding": "gzip"}, 415),
    ("gzip-bomb", gzip.compress(b" " * (64 * 1024 * 1024)), JSON, {"Content-Encoding": "gzip"}, 415),
]
IDS = [case[0] for case in CASES]


def check_error(status: int, payload: dict, expected: int) -> None:
    assert status == expected, payload
    assert payload["code"] == expected and payload["status"] and payload["message"]
    if expected == 422:
        assert payload["errors"]["json"]


@pytest.mark.parametrize(("name", "data", "content_type", "headers", "expected"), CASES, ids=IDS)
def test_in_process(client, name, data, content_type, headers, expected):
    response = client.post("/classify", data=data, content_type=content_type, headers=headers)
    assert response.is_json
    check_error(response.status_code, response.get_json(), expected)


@pytest.fixture()
def port(live_port):
    return live_port


@pytest.mark.parametrize(("name", "data", "content_type", "headers", "expected"), CASES, ids=IDS)
def test_over_http(port, name, data, content_type, headers, expected):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    sent = {"Content-Length": str(len(data)), **headers}
    if content_type:
        sent["Content-Type"] = content_type
    connection.request("POST", "/classify", body=data, headers=sent)
    response = connection.getresponse()
    assert response.getheader("Content-Type") == JSON
    check_error(response.status, json.loads(response.read()), expected)
    connection.close()
    # The server is still healthy after every hostile request.
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("POST", "/classify", body=body({"text": SIMPLIFIED}), headers={"Content-Type": JSON})
    assert connection.getresponse().status == 200
    connection.close()
