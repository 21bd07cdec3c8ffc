"""The text cleaner shared by training, batch inference and the API."""

import pickle

import pytest
from sklearn.base import clone

from sentiment_mlops.text_cleaning import (
    EXCLAMATION_TOKEN,
    NEGATIONS,
    QUESTION_TOKEN,
    URL_TOKEN,
    USER_TOKEN,
    TextCleaner,
    clean_text,
)
from tests.text_estimator_checks import parametrize_with_text_checks

pytestmark = pytest.mark.unit


def test_negations_survive_stopword_removal():
    cleaned = clean_text("This is not good, no, never, nor was it", remove_stopwords=True).split()
    assert {"not", "no", "never", "nor"} <= set(cleaned)
    assert "is" not in cleaned and "this" not in cleaned  # ordinary stopwords do go


def test_negated_contractions_become_not():
    assert clean_text("I didn't like it and won't fly, can't stand it").split().count("not") == 3


def test_urls_and_mentions_are_replaced_by_tokens():
    cleaned = clean_text("@united see https://t.co/abc and www.example.com now").split()
    assert cleaned == [USER_TOKEN, "see", URL_TOKEN, "and", URL_TOKEN, "now"]


def test_html_entities_are_unescaped_and_tags_dropped():
    assert clean_text("Fish &amp; chips<br /><br />were great") == "fish chips were great"
    # "&lt;3" is a heart, not the start of a tag.
    assert "emopositive" in clean_text("love it &lt;3 so much")


def test_punctuation_and_special_characters_are_removed_and_case_folded():
    cleaned = clean_text("WOW!!! Best... flight*** ever?! #blessed", replace_emphasis_marks=False)
    assert cleaned == "wow best flight ever blessed"


def test_exclamation_and_question_marks_become_tokens():
    cleaned = clean_text("Delayed again?! Great...").split()
    assert cleaned == ["delayed", "again", QUESTION_TOKEN, EXCLAMATION_TOKEN, "great"]


def test_emojis_become_tokens_named_after_them():
    cleaned = clean_text("on fleek 😂😂 \u2764 thanks").split()
    assert cleaned == [
        "on",
        "fleek",
        "emojifacewithtearsofjoy",
        "emojifacewithtearsofjoy",
        "emojiheavyblackheart",
        "thanks",
    ]
    assert clean_text("on fleek 😂", replace_emojis=False) == "on fleek"


def test_a_pickled_cleaner_keeps_its_options():
    cleaner = TextCleaner(replace_emphasis_marks=False)
    restored = pickle.loads(pickle.dumps(cleaner))
    assert restored.get_params() == cleaner.get_params()
    assert restored.transform(["Great!"]).tolist() == ["great"]


def test_options_turn_steps_off():
    assert clean_text("Hi @bob", replace_mentions=False, lowercase=False) == "Hi bob"


def test_non_string_input_is_a_clear_error():
    with pytest.raises(TypeError, match="expects a str, got float"):
        TextCleaner().transform(["fine", float("nan")])


def test_cleaner_is_a_stateless_sklearn_transformer():
    cleaner = TextCleaner(remove_stopwords=True)
    assert cleaner.fit(["anything"]) is cleaner
    copy = clone(cleaner)
    assert copy.get_params() == cleaner.get_params()
    assert list(copy.transform(["Not bad at all"])) == ["not bad"]
    assert {"not", "no", "never", "nor"} <= NEGATIONS


@pytest.mark.unit
@parametrize_with_text_checks([TextCleaner(), TextCleaner(remove_stopwords=True)])
def test_cleaner_follows_scikit_learn_conventions(estimator, check):
    check(estimator)
