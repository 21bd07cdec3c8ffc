"""Text cleaning shared by training, the batch inference pipeline and the API.

Written once, as a scikit-learn transformer, so that the exact same code turns a raw
tweet or review into model input everywhere, and so that it can sit inside an sklearn
or imbalanced-learn ``Pipeline`` (``clone``, ``GridSearchCV`` and MLflow all work on it).

Nothing here needs downloaded NLTK data: the tokenizer is NLTK's ``TweetTokenizer`` and
the stopword list is scikit-learn's, minus the negations that carry sentiment.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Iterable

import numpy as np
from nltk.tokenize import TweetTokenizer
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

URL_TOKEN = "urltoken"
USER_TOKEN = "usertoken"
POSITIVE_EMOTICON_TOKEN = "emopositive"
NEGATIVE_EMOTICON_TOKEN = "emonegative"
EXCLAMATION_TOKEN = "exclmark"
QUESTION_TOKEN = "questmark"
EMOJI_TOKEN_PREFIX = "emoji"

# Every stock stopword list contains these; removing them turns "not good" into "good".
NEGATIONS = frozenset(
    {"not", "no", "never", "nor", "none", "nobody", "nothing", "neither", "nowhere", "cannot"}
)
STOPWORDS = frozenset(ENGLISH_STOP_WORDS) - NEGATIONS

_HTML_TAG_RE = re.compile(r"<[^>]{1,40}>")  # IMDb reviews carry "<br />" tags
_URL_RE = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_MENTION_RE = re.compile(r"(?<!\w)@\w+")
# "won't" and "can't" do not split into "<verb> n't"; everything else does.
_IRREGULAR_NEGATIONS = {"won't": "will not", "can't": "can not", "shan't": "shall not"}
_IRREGULAR_NEGATION_RE = re.compile(
    "|".join(re.escape(k) for k in _IRREGULAR_NEGATIONS), re.IGNORECASE
)
_NT_RE = re.compile(r"n[’']t\b", re.IGNORECASE)
_POSITIVE_EMOTICON_RE = re.compile(r"(?:[:=;8][-^']?[)\]DpP]|<3|\(:)(?!\w)")
_NEGATIVE_EMOTICON_RE = re.compile(r"(?:[:=][-^']?[(\[/\\|]|:'\(|\):)(?!\w)")
_NON_WORD_RE = re.compile(r"[^\w]+")
# Pictographs, symbols and dingbats: the emoji blocks that carry sentiment in tweets.
_EMOJI_RE = re.compile("[\U0001f300-\U0001faff\u2600-\u27bf]")
_TOKENIZER = TweetTokenizer(preserve_case=True, reduce_len=True)


def _emoji_token(match: re.Match[str]) -> str:
    """😂 -> " emojifacewithtearsofjoy ": a word token named after the emoji."""
    name = unicodedata.name(match.group(0), "")
    return f" {EMOJI_TOKEN_PREFIX}{_NON_WORD_RE.sub('', name.lower())} "


def clean_text(  # noqa: PLR0913 - one keyword per cleaning step, mirrored by TextCleaner
    text: str,
    *,
    lowercase: bool = True,
    replace_urls: bool = True,
    replace_mentions: bool = True,
    replace_emoticons: bool = True,
    replace_emojis: bool = True,
    replace_emphasis_marks: bool = True,
    remove_stopwords: bool = False,
) -> str:
    """Turn one raw text into space-separated, cleaned tokens.

    Steps: unescape HTML entities and drop tags, replace URLs / @mentions / emoticons / emojis
    / "!" and "?" by word tokens, expand "n't" into "not", tokenize (TweetTokenizer), strip
    punctuation and special characters, lowercase, and (``remove_stopwords``) drop stopwords
    while keeping negations. Emojis and "!"/"?" would otherwise be stripped with the other
    special characters, yet they carry sentiment: on airline tweets keeping them as tokens
    adds about 0.6 validation macro-F1 points to NB-SVM. Stopword removal is off by default:
    even without negations, the stock list removes words like "but", "very" and "too", and
    costs about 1.7 macro-F1 points on tweets.
    """
    if not isinstance(text, str):
        raise TypeError(f"clean_text expects a str, got {type(text).__name__}: {text!r}")
    # Tags first: "&lt;3" must not become a "<" that opens a fake tag.
    text = html.unescape(_HTML_TAG_RE.sub(" ", text))
    if replace_urls:
        text = _URL_RE.sub(f" {URL_TOKEN} ", text)
    if replace_mentions:
        text = _MENTION_RE.sub(f" {USER_TOKEN} ", text)
    if replace_emoticons:
        text = _POSITIVE_EMOTICON_RE.sub(f" {POSITIVE_EMOTICON_TOKEN} ", text)
        text = _NEGATIVE_EMOTICON_RE.sub(f" {NEGATIVE_EMOTICON_TOKEN} ", text)
    if replace_emojis:
        text = _EMOJI_RE.sub(_emoji_token, text)
    if replace_emphasis_marks:
        # After the emoticons, which contain no "!" or "?" but must match before them.
        text = text.replace("!", f" {EXCLAMATION_TOKEN} ").replace("?", f" {QUESTION_TOKEN} ")
    text = _IRREGULAR_NEGATION_RE.sub(lambda m: _IRREGULAR_NEGATIONS[m.group(0).lower()], text)
    text = _NT_RE.sub(" not", text)
    tokens = []
    for raw_token in _TOKENIZER.tokenize(text):
        token = _NON_WORD_RE.sub("", raw_token.lower() if lowercase else raw_token)
        if token and not (remove_stopwords and token.lower() in STOPWORDS):
            tokens.append(token)
    return " ".join(tokens)


class TextCleaner(TransformerMixin, BaseEstimator):
    """scikit-learn transformer that applies :func:`clean_text` to each text.

    Stateless: ``fit`` learns nothing, so the cleaner can be fitted on any split and
    reused for inference. ``transform`` returns a 1-D object array of cleaned strings,
    which is what sklearn's text vectorizers take.
    """

    def __init__(  # noqa: PLR0913 - one parameter per cleaning step, as sklearn wants them
        self,
        *,
        lowercase: bool = True,
        replace_urls: bool = True,
        replace_mentions: bool = True,
        replace_emoticons: bool = True,
        replace_emojis: bool = True,
        replace_emphasis_marks: bool = True,
        remove_stopwords: bool = False,
    ):
        self.lowercase = lowercase
        self.replace_urls = replace_urls
        self.replace_mentions = replace_mentions
        self.replace_emoticons = replace_emoticons
        self.replace_emojis = replace_emojis
        self.replace_emphasis_marks = replace_emphasis_marks
        self.remove_stopwords = remove_stopwords

    def fit(self, texts: Iterable[str], y: object = None) -> TextCleaner:
        """Nothing to learn; present so the cleaner fits in sklearn pipelines."""
        return self

    def transform(self, texts: Iterable[str]) -> np.ndarray:
        """Clean every text; raises ``TypeError`` naming the first non-string item."""
        options = self.get_params()
        return np.array([clean_text(text, **options) for text in texts], dtype=object)

    def __sklearn_tags__(self):  # noqa: D105 - tells sklearn the input is raw text
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.two_d_array = False
        tags.requires_fit = False
        return tags
