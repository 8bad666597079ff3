"""Ticket text → the features the matcher ranks on: jieba words and character bigrams.

One segmenter per policy: jieba's own dictionary, extended with the policy's terms (matter
names, aliases, cues, place names) so that "窨井盖" or "黑气点" stay one word. jieba's
dictionary is loaded once per process and copied for each policy, so a reload costs a dict
copy, not a dictionary parse, and terms of an old policy never leak into a new one.
"""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
from collections import Counter
from collections.abc import Iterable

import jieba

# Spelling variants folded before anything else, in the index and in every query, so that
# "挖砂" finds "挖沙" and "噪声" finds "噪音". Character n-grams cover the rest (井盖/窨井盖).
FOLDS: tuple[tuple[str, str], ...] = (("砂", "沙"), ("噪声", "噪音"), ("煤气", "燃气"), ("电瓶车", "电动车"))

# Words that say nothing about which matter a ticket is: function words and the hotline's
# boilerplate (市民反映…要求处理). They are dropped as words; their bigrams are rare enough
# in the policy that BM25's idf weighs them down anyway.
STOPWORDS = frozenset(
    """
    的 了 在 有 是 我 我们 你 你们 他 她 它 他们 这 那 都 就 也 还 很 太 和 与 及 或 被 把 让 给 对 从 到 又 再
    吗 呢 吧 啊 呀 哦 么 个 一 一个 上 下 里 去 来 会 能 说 看 要 想 人 有人 好 多 大 小 些
    要求 反映 市民 来电 来电人 网格员 发现 称 已 已经 处理 报告 上报 请 请求 问题 什么 怎么 为什么
    没有 不 没 天天 每天 晚上 现在 一直 好几 几 自己 附近 旁边 这里 那里 这个 那个 一下 正在 还在 然后 但是
    而且 因为 所以 如果 就是 可能 应该 需要 一些 很多 好多 非常 特别 十分 等 等等 一样 时候 情况 一下子
    """.split()
)
_HAN_RUN = re.compile(r"[\u3400-\u9fff]+")
# Function characters: a bigram with one of them ("有人", "在河") is mostly grammar, not content.
FUNCTION_CHARS = frozenset("的了在有是我你他她它这那都就也还很太和与被把让给对从到又再吗呢吧啊呀么个着过得地")
_WORDLIKE = re.compile(r"[\w\u3400-\u9fff]")
TERM_FREQ = 20_000  # high enough that a policy term is kept whole by jieba's DAG

_base: jieba.Tokenizer | None = None
_base_lock = threading.Lock()
jieba.setLogLevel(logging.WARNING)


def normalise(text: str) -> str:
    """NFKC (full-width → half-width), lowercase, spelling variants folded."""
    text = unicodedata.normalize("NFKC", text).lower()
    for variant, canonical in FOLDS:
        text = text.replace(variant, canonical)
    return text


def has_words(text: str) -> bool:
    """False for text of only whitespace, punctuation, symbols or emoji."""
    return bool(_WORDLIKE.search(text))


def _base_tokenizer() -> jieba.Tokenizer:
    global _base
    with _base_lock:
        if _base is None:
            tokenizer = jieba.Tokenizer()
            tokenizer.initialize()
            _base = tokenizer
        return _base


class Segmenter:
    """jieba with the policy's terms added; thread-safe (jieba's cut only reads its tables)."""

    def __init__(self, terms: Iterable[str]) -> None:
        base = _base_tokenizer()
        self._jieba = jieba.Tokenizer()
        self._jieba.FREQ = dict(base.FREQ)
        self._jieba.total = base.total
        self._jieba.initialized = True
        self.terms: frozenset[str] = frozenset(normalise(t) for t in terms if len(t) >= 2)
        for term in sorted(self.terms):
            self._jieba.add_word(term, TERM_FREQ)

    def words(self, text: str) -> list[str]:
        """The words of normalised text, stopwords and punctuation dropped, in order."""
        return [
            w
            for w in self._jieba.lcut(text, HMM=False)
            if w.strip() and w not in STOPWORDS and _WORDLIKE.search(w)
        ]


def bigrams(text: str) -> list[str]:
    """Character bigrams within each run of Han characters, without function characters."""
    return [
        run[i : i + 2]
        for run in _HAN_RUN.findall(text)
        for i in range(len(run) - 1)
        if run[i] not in FUNCTION_CHARS and run[i + 1] not in FUNCTION_CHARS
    ]


def features(segmenter: Segmenter, text: str, drop: frozenset[str] = frozenset()) -> Counter[str]:
    """Feature counts of normalised text: `w:<word>` and `c:<bigram>`; words in `drop`
    (place names) and the characters they cover take no part."""
    counts: Counter[str] = Counter()
    for word in segmenter.words(text):
        if word in drop:
            text = text.replace(word, " ")
        else:
            counts["w:" + word] += 1
    for gram in bigrams(text):
        counts["c:" + gram] += 1
    return counts
