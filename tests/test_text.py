import re

import jieba
import pytest

from model_training.text import Analyzer, analyze, normalize, tokenize, tokenizer_info

HAN = re.compile(r"[\u4e00-\u9fff]")


def test_normalize_maps_traditional_to_simplified_and_collapses_space():
    assert (
        normalize("俄羅斯聯邦安全會議秘書\u3000紹伊古  (Ｓｅｒｇｅｉ)")
        == "俄罗斯联邦安全会议秘书 绍伊古 (sergei)"
    )


def test_both_scripts_give_the_same_tokens():
    assert analyze("中國外交部發言人表示，臺灣是中國領土不可分割的一部分") == analyze(
        "中国外交部发言人表示，台湾是中国领土不可分割的一部分"
    )


def test_traditional_names_segment_like_simplified():
    assert "俄罗斯联邦" in "".join(tokenize(normalize("俄羅斯聯邦")))
    assert "秘书" in tokenize(normalize("安全會議秘書"))


def test_tokenize_drops_punctuation_and_masks_digits():
    tokens = analyze("2025年GDP增長3.5%，iPhone SE！")
    assert "，" not in tokens and "！" not in tokens
    assert "0000" in tokens and "gdp" in tokens and "iphone" in tokens


def chinese(tokens: list[str]) -> list[str]:
    return [token for token in tokens if HAN.search(token)]


def test_rjieba_tokens_equal_jieba_lcut_on_the_corpus(corpus_rows):
    # The shipped tokenizer must be jieba's algorithm and dictionary: same Chinese tokens as
    # jieba.lcut. (They differ only on hyphenated Latin: rjieba keeps "f-35" whole.)
    import rjieba

    texts = [normalize(row["text"]) for row in corpus_rows]
    assert texts, "the corpus is empty"
    differing = [t for t in texts if chinese(rjieba.cut(t)) != chinese(jieba.lcut(t))]
    assert not differing, f"{len(differing)} of {len(texts)} differ, e.g. {differing[0]!r}"


def test_analyzer_features_include_ngrams_and_target():
    features = Analyzer(2, (1, 2))(("iPhone SE", "苹果手机很好用"))
    assert "苹果 手机" in features
    assert "#苹" in features and "#苹果" in features
    assert "@iphonese" in features and "@iphonese|苹果" in features


@pytest.mark.parametrize("key", ["tokenizer", "tokenizer_version", "opencc_version"])
def test_tokenizer_info_is_recorded(key):
    assert tokenizer_info()[key]


def test_fast_nfkc_equals_unicodedata(corpus_rows):
    import unicodedata

    from model_training.text import nfkc

    odd = ["Ａ\u0301", "ｶﾞ", "①②", "ﬁ", "\u3000全形　空格", "１２３％", "é", "e\u0301", "ＡＢＣ\u00a0x"]
    for text in [row["text"] for row in corpus_rows] + odd:
        assert nfkc(text) == unicodedata.normalize("NFKC", text), text
