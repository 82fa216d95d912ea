import json

import pytest

from tests.conftest import MIXED, SIMPLIFIED, TRADITIONAL

HEADS = {"stance", "topic", "sentiment"}


def post(client, body, **kwargs):
    return client.post("/classify", json=body, **kwargs)


def assert_error(response, status):
    assert response.status_code == status
    assert response.is_json
    body = response.get_json()
    assert body["code"] == status and body["status"] and body["message"]
    return body


@pytest.mark.parametrize("text", [TRADITIONAL, SIMPLIFIED, MIXED], ids=["hant", "hans", "latin"])
def test_one_paragraph_gets_every_head(client, text):
    response = post(client, {"text": text})
    assert response.status_code == 200
    body = response.get_json()
    assert body["model"] == {"name": "tiny", "version": "test-1"}
    [result] = body["results"]
    assert result["index"] == 0 and result["characters"] == len(text)
    assert set(result["predictions"]) == HEADS
    for prediction in result["predictions"].values():
        assert prediction["label"] == max(prediction["scores"], key=prediction["scores"].get)
        assert sum(prediction["scores"].values()) == pytest.approx(1, abs=1e-3)
    assert "summary" not in body


def test_scripts_do_not_change_the_answer(client):
    traditional = post(
        client, {"text": "據海關數據，今年前十個月中俄雙邊貿易額同比增長百分之三。"}
    ).get_json()
    simplified = post(client, {"text": SIMPLIFIED}).get_json()
    assert traditional["results"][0]["predictions"] == simplified["results"][0]["predictions"]


def test_a_batch_keeps_its_order(client):
    texts = [TRADITIONAL, SIMPLIFIED, MIXED]
    body = post(client, {"paragraphs": texts}).get_json()
    assert [r["index"] for r in body["results"]] == [0, 1, 2]
    assert [r["characters"] for r in body["results"]] == [len(t) for t in texts]
    single = post(client, {"text": SIMPLIFIED}).get_json()["results"][0]["predictions"]
    # A paragraph alone (Python-float path) and in a batch (numpy path): the same labels,
    # scores equal up to the last rounded digit (float32 sums in a different order).
    batched = body["results"][1]["predictions"]
    assert {h: p["label"] for h, p in batched.items()} == {h: p["label"] for h, p in single.items()}
    for head, prediction in single.items():
        assert prediction["scores"] == pytest.approx(batched[head]["scores"], abs=1e-4)


def test_an_article_is_split_on_lines_and_summarised(client):
    article = f"{TRADITIONAL}\n\n  \n{SIMPLIFIED}\r\n{MIXED}\n"
    body = post(client, {"article": article}).get_json()
    assert len(body["results"]) == 3
    summary = body["summary"]
    assert summary["paragraphs"] == 3
    assert set(summary["stance_share"]) == {"critical", "neutral", "pro_beijing"}
    assert sum(summary["stance_share"].values()) == pytest.approx(1, abs=1e-3)
    assert sum(summary["stance_weighted"].values()) == pytest.approx(1, abs=1e-3)
    shares = [r["predictions"]["stance"]["label"] for r in body["results"]]
    for label, share in summary["stance_share"].items():
        assert share == pytest.approx(shares.count(label) / 3, abs=1e-3)


def test_the_example_article_gets_one_result_per_paragraph(client):
    from tests.conftest import SHARED_DATA

    path = SHARED_DATA.parent / "examples" / "article_zh_hant.txt"
    if not path.exists():
        pytest.skip("../shared/examples is absent")
    article = path.read_text(encoding="utf-8")
    body = post(client, {"article": article}).get_json()
    paragraphs = [line for line in article.splitlines() if line.strip()]
    assert len(body["results"]) == len(paragraphs)
    assert all(set(r["predictions"]) == HEADS for r in body["results"])


@pytest.mark.parametrize(
    "body",
    [
        {"text": SIMPLIFIED},
        {"paragraphs": [TRADITIONAL, MIXED], "heads": ["topic"]},
        {"article": f"{TRADITIONAL}\n\n{SIMPLIFIED}"},
    ],
    ids=["text", "paragraphs", "article"],
)
def test_responses_follow_the_documented_schema(client, body):
    # The view serialises its own dictionary (no marshmallow dump on the hot path), so the
    # documented schema is checked here: nothing missing, nothing undocumented.
    from service.schemas import ClassifyResponse

    response = post(client, body)
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert ClassifyResponse().validate(response.get_json()) == {}


def test_heads_can_be_chosen(client):
    body = post(client, {"text": SIMPLIFIED, "heads": ["topic"]}).get_json()
    assert set(body["results"][0]["predictions"]) == {"topic"}


def test_health_readiness_and_model(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    assert client.get("/readyz").get_json() == {"status": "ready"}
    metadata = client.get("/model").get_json()
    assert metadata["name"] == "tiny" and set(metadata["heads"]) == HEADS


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "_schema"),
        ({"text": "a", "paragraphs": ["b"]}, "_schema"),
        ({"text": ""}, "text"),
        ({"text": " \n\t"}, "text"),
        ({"text": 5}, "text"),
        ({"text": None}, "text"),
        ({"paragraphs": []}, "paragraphs"),
        ({"paragraphs": ["ok", ""]}, "paragraphs"),
        ({"paragraphs": "not a list"}, "paragraphs"),
        ({"paragraphs": [["nested"]]}, "paragraphs"),
        ({"paragraphs": ["x"] * 257}, "paragraphs"),
        ({"paragraphs": ["x" * 20_001]}, "paragraphs"),
        ({"text": "x" * 20_001}, "text"),
        ({"article": "\n \n"}, "article"),
        ({"article": "x\n" * 257}, "article"),
        ({"text": "ok", "heads": ["nope"]}, "heads"),
        ({"text": "ok", "heads": []}, "heads"),
        ({"text": "ok", "extra": 1}, "extra"),
    ],
)
def test_invalid_bodies_are_422_with_field_messages(client, body, field):
    error = assert_error(post(client, body), 422)
    assert field in error["errors"]["json"]


def test_lone_surrogates_are_422(client):
    response = client.post("/classify", data='{"text": "\\ud800中文"}', content_type="application/json")
    assert "text" in assert_error(response, 422)["errors"]["json"]


@pytest.mark.parametrize("data", ['{"text": ', "not json", b'{"text": "\xff\xfe"}', ""])
def test_malformed_json_is_400(client, data):
    assert_error(client.post("/classify", data=data, content_type="application/json"), 400)


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
def test_wrong_content_type_is_415(client, content_type):
    response = client.post("/classify", data=json.dumps({"text": "中文"}), content_type=content_type)
    assert_error(response, 415)


def test_body_over_the_limit_is_413(client):
    data = json.dumps({"text": "中" * (3 * 1024 * 1024)})
    assert_error(client.post("/classify", data=data, content_type="application/json"), 413)


def test_unknown_path_is_404_and_wrong_method_405(client):
    assert_error(client.get("/nowhere"), 404)
    response = client.get("/classify")
    assert_error(response, 405)
    assert "POST" in response.headers["Allow"]
    assert_error(client.delete("/healthz"), 405)


def test_limits_are_configurable(tiny_artifact):
    from service import create_app

    app = create_app({"MODEL_DIR": str(tiny_artifact), "MAX_PARAGRAPHS": 2, "MAX_PARAGRAPH_CHARS": 5})
    client = app.test_client()
    assert_error(post(client, {"paragraphs": ["a", "b", "c"]}), 422)
    assert_error(post(client, {"text": "abcdef"}), 422)
    assert post(client, {"paragraphs": ["ab", "cd"]}).status_code == 200


def test_a_missing_model_stops_the_app(tmp_path, capsys):
    from service import create_app

    with pytest.raises(SystemExit):
        create_app({"MODEL_DIR": str(tmp_path / "none")})
    assert "cannot load model" in capsys.readouterr().err
