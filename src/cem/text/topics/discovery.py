"""Topic discovery without a database: embeddings -> k-means (two levels) -> labels by class-based TF-IDF.

This is BERTopic's recipe with scikit-learn parts that install offline and run fast on two cores: the texts'
sentence embeddings are clustered (k-means on the unit vectors, i.e. by cosine), each cluster is re-clustered into
subtopics, and each cluster is labelled by the words and two-word phrases that are most distinctive of it against
the other clusters (c-TF-IDF: a term's frequency in the cluster times log(1 + average cluster size / the term's
frequency in all clusters)). Subtopics are labelled against their siblings only, so their labels say what sets them
apart inside the parent. The same seed gives the same topics.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from cem.text.topics.stopwords import stop_words

if TYPE_CHECKING:
    from scipy import sparse

Vectors = npt.NDArray[np.float32]
Progress = Callable[[str, float], None]  # (stage, fraction done of the whole discovery)

DEFAULT_MIN_TOPIC_SIZE = 10

MAX_TOPICS = 40
MAX_SUBTOPICS = 5
LABEL_TERMS = 3
# k-means runs on one OpenMP/BLAS thread: on a busy 2-core host, spinning worker threads made it ~30x slower
# (430 texts: 4.1 s with the default threads vs 0.14 s with one, measured under load); idle, one is about as fast.
CLUSTER_THREADS = 1
# Above this many texts, mini-batch k-means (linear time); below, full k-means (a little better, still fast).
MINIBATCH_FROM = 20_000
# A member this far below its centroid's typical similarity is left out when new texts are assigned:
# the per-topic threshold is this quantile of the members' cosine similarity to the centroid.
THRESHOLD_QUANTILE = 0.02

_HANDLE = re.compile(r"@\w+")
_URL = re.compile(r"https?://\S+|www\.\S+")
# Words of two letters or more; digits and underscores never make a label.
TOKEN_PATTERN = r"(?u)\b[^\W\d_][^\W\d_]+\b"


@dataclass
class Cluster:
    """One discovered topic or subtopic; `rows` index the input texts."""

    key: str
    label: str
    terms: list[str]
    centroid: Vectors
    rows: npt.NDArray[np.intp]
    threshold: float
    children: list[Cluster] = field(default_factory=list)

    @property
    def size(self) -> int:
        return len(self.rows)


@dataclass
class Discovery:
    """The topics found in a list of texts: per row its topic and subtopic index (-1 when none)."""

    topics: list[Cluster]
    row_topic: npt.NDArray[np.intp]
    row_subtopic: npt.NDArray[np.intp]  # index into topics[row_topic].children

    def labels_of(self, row: int) -> tuple[str, str]:
        """(topic label, subtopic label) of one row; empty strings when it has none."""
        t = int(self.row_topic[row])
        if t < 0:
            return "", ""
        s = int(self.row_subtopic[row])
        return self.topics[t].label, self.topics[t].children[s].label if s >= 0 else ""


def clean_text(text: str) -> str:
    """Text as the label vectorizer sees it: no @handles or URLs, hashtags as words."""
    return _URL.sub(" ", _HANDLE.sub(" ", text)).replace("#", " ")


def slugify(text: str) -> str:
    """A URL- and metric-safe key: ASCII letters, digits and dashes."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:60] or "topic"


def normalise(vectors: npt.NDArray[np.floating]) -> Vectors:
    """Unit rows (zero rows stay zero) as float32."""
    v = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(v, axis=1, keepdims=True)
    out: Vectors = v / np.maximum(norms, 1e-12)
    return out


def auto_topic_count(n: int, min_topic_size: int) -> int:
    """How many topics to look for: grows like sqrt(n), at most MAX_TOPICS, never below min_topic_size members."""
    by_size = max(n // max(min_topic_size, 1), 1)
    return int(max(1, min(round(math.sqrt(n / 4)), MAX_TOPICS, by_size)))


def _kmeans(vectors: Vectors, k: int, seed: int) -> npt.NDArray[np.intp]:
    # scikit-learn and scipy are imported where they are used: this module is on the import path of every process
    # (web, API, CLI, worker), and most of them never cluster (importing sklearn costs ~0.6 s).
    from sklearn.cluster import KMeans, MiniBatchKMeans
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

    if k <= 1 or len(vectors) <= k:
        return np.zeros(len(vectors), dtype=np.intp)
    if len(vectors) >= MINIBATCH_FROM:
        model: KMeans | MiniBatchKMeans = MiniBatchKMeans(
            n_clusters=k, random_state=seed, batch_size=4096, n_init=3, max_no_improvement=20
        )
    else:
        model = KMeans(n_clusters=k, random_state=seed, n_init=3)
    with threadpool_limits(limits=CLUSTER_THREADS):
        labels: npt.NDArray[np.intp] = model.fit_predict(vectors).astype(np.intp)
    return labels


def _centroid(vectors: Vectors) -> Vectors:
    mean = vectors.mean(axis=0, keepdims=True)
    out: Vectors = normalise(mean)[0]
    return out


def _absorb_small(vectors: Vectors, labels: npt.NDArray[np.intp], min_size: int) -> npt.NDArray[np.intp]:
    """Clusters under min_size are dissolved: their members join the nearest remaining cluster."""
    ids, counts = np.unique(labels, return_counts=True)
    keep = ids[counts >= min_size]
    if len(keep) == 0:
        return np.zeros_like(labels)
    if len(keep) == len(ids):
        return _renumber(labels)
    centroids = np.stack([_centroid(vectors[labels == i]) for i in keep])
    small = ~np.isin(labels, keep)
    nearest = keep[np.argmax(vectors[small] @ centroids.T, axis=1)]
    labels = labels.copy()
    labels[small] = nearest
    return _renumber(labels)


def _renumber(labels: npt.NDArray[np.intp]) -> npt.NDArray[np.intp]:
    """0..k-1, biggest cluster first (stable order makes keys and output reproducible)."""
    ids, counts = np.unique(labels, return_counts=True)
    order = ids[np.lexsort((ids, -counts))]
    mapping = np.empty(int(ids.max()) + 1, dtype=np.intp)
    mapping[order] = np.arange(len(order))
    out: npt.NDArray[np.intp] = mapping[labels]
    return out


def term_matrix(texts: Sequence[str]) -> tuple[sparse.csr_matrix, npt.NDArray[np.str_]]:
    """Document-term counts of words and two-word phrases, stop words (English and Portuguese) removed."""
    from scipy import sparse  # lazily, as in _kmeans
    from sklearn.feature_extraction.text import CountVectorizer

    n = len(texts)
    vectorizer = CountVectorizer(
        token_pattern=TOKEN_PATTERN,
        stop_words=sorted(w for w in stop_words() if len(w) > 1),
        ngram_range=(1, 2),
        min_df=2 if n < 5000 else 5,
        max_features=50_000,
        dtype=np.float32,
    )
    try:
        counts = vectorizer.fit_transform([clean_text(t) for t in texts])
    except ValueError:  # every text was only stop words, digits or handles
        return sparse.csr_matrix((n, 0), dtype=np.float32), np.array([], dtype=str)
    return counts.tocsr(), vectorizer.get_feature_names_out()


def ctfidf(class_counts: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Class-based TF-IDF (BERTopic): l1 term frequency per class x log(1 + mean class words / term frequency)."""
    totals = class_counts.sum(axis=1, keepdims=True)
    tf = class_counts / np.maximum(totals, 1.0)
    term_freq = class_counts.sum(axis=0)
    mean_words = float(totals.mean()) if len(totals) else 0.0
    idf = np.log(1.0 + mean_words / np.maximum(term_freq, 1.0))
    out: npt.NDArray[np.float64] = tf * idf
    return out


def top_terms(
    weights: npt.NDArray[np.float64], vocab: npt.NDArray[np.str_], n: int = LABEL_TERMS, avoid: set[str] | None = None
) -> list[str]:
    """The n heaviest terms, skipping a word already inside a chosen phrase (and words of `avoid`)."""
    chosen: list[str] = []
    avoid = avoid or set()
    for index in np.argsort(-weights, kind="stable"):
        if weights[index] <= 0 or len(chosen) >= n:
            break
        term = str(vocab[index])
        words = set(term.split())
        if words <= avoid or any(words <= set(c.split()) or set(c.split()) <= words for c in chosen):
            continue
        chosen.append(term)
    return chosen


def _class_counts(counts: sparse.csr_matrix, labels: npt.NDArray[np.intp], k: int) -> npt.NDArray[np.float64]:
    """(k, terms) summed counts per class, by one sparse product."""
    from scipy import sparse  # lazily, as in _kmeans

    if counts.shape[1] == 0:
        return np.zeros((k, 0))
    onehot = sparse.csr_matrix(
        (np.ones(len(labels), dtype=np.float32), (labels, np.arange(len(labels)))), shape=(k, len(labels))
    )
    return np.asarray((onehot @ counts).todense(), dtype=np.float64)


def _distinct_terms(candidates: list[str], used: set[str]) -> list[str]:
    """The first LABEL_TERMS terms, with more added while that label is already another sibling's."""
    n = LABEL_TERMS
    while n < len(candidates) and ", ".join(candidates[:n]) in used:
        n += 1
    return candidates[:n]


def _label(terms: list[str], fallback: str) -> str:
    return ", ".join(terms) if terms else fallback


def unique_key(base: str, taken: set[str]) -> str:
    """base, or base-2, base-3... when taken; the result is added to taken."""
    key, n = base, 2
    while key in taken:
        key, n = f"{base}-{n}", n + 1
    taken.add(key)
    return key


def _threshold(vectors: Vectors, centroid: Vectors) -> float:
    sims = vectors @ centroid
    return float(np.quantile(sims, THRESHOLD_QUANTILE)) if len(sims) else 0.0


def build_clusters(
    vectors: Vectors,
    labels: npt.NDArray[np.intp],
    rows: npt.NDArray[np.intp],
    counts: sparse.csr_matrix,
    vocab: npt.NDArray[np.str_],
    *,
    taken: set[str],
    key_prefix: str = "",
    avoid: set[str] | None = None,
) -> list[Cluster]:
    """Clusters of `rows` (labels index them 0..k-1), labelled by c-TF-IDF against each other."""
    k = int(labels.max()) + 1 if len(labels) else 0
    used_labels: set[str] = set()
    weights = ctfidf(_class_counts(counts[rows], labels, k))
    out = []
    for c in range(k):
        members = rows[labels == c]
        centroid = _centroid(vectors[members])
        candidates = top_terms(weights[c], vocab, n=LABEL_TERMS + 3, avoid=avoid) if weights.shape[1] else []
        terms = _distinct_terms(candidates, used_labels)
        fallback = f"topic {c + 1}" if not key_prefix else f"group {c + 1}"
        label = _label(terms, fallback)
        used_labels.add(label)
        key = unique_key(key_prefix + slugify(" ".join(terms[:2]) or fallback), taken)
        out.append(Cluster(key, label, terms, centroid, members, _threshold(vectors[members], centroid)))
    return out


def subcluster_count(size: int, min_topic_size: int, max_subtopics: int = MAX_SUBTOPICS) -> int:
    """How many subtopics a topic of `size` members gets (0 when too small to split in two)."""
    if size < 2 * min_topic_size:
        return 0
    return int(min(max_subtopics, max(2, round(math.sqrt(size / (2 * min_topic_size))))))


def discover(
    texts: Sequence[str],
    vectors: npt.NDArray[np.floating],
    *,
    seed: int = 0,
    min_topic_size: int = DEFAULT_MIN_TOPIC_SIZE,
    n_topics: int | None = None,
    progress: Progress | None = None,
) -> Discovery:
    """Two-level topics of the texts; vectors[i] is the embedding of texts[i]."""
    if len(texts) != len(vectors):
        raise ValueError(f"{len(texts)} texts but {len(vectors)} vectors: one vector per text is needed.")
    if min_topic_size < 2:
        raise ValueError("min_topic_size must be at least 2.")
    report = progress or (lambda _stage, _done: None)
    unit = normalise(vectors)
    n = len(unit)
    if n < min_topic_size:
        empty = np.full(n, -1, dtype=np.intp)
        return Discovery([], empty, empty.copy())
    report("clustering", 0.05)
    k = n_topics or auto_topic_count(n, min_topic_size)
    labels = _absorb_small(unit, _kmeans(unit, k, seed), min_topic_size)
    report("labelling", 0.4)
    counts, vocab = term_matrix(texts)
    taken: set[str] = set()
    topics = build_clusters(unit, labels, np.arange(n, dtype=np.intp), counts, vocab, taken=taken)
    row_sub = np.full(n, -1, dtype=np.intp)
    for index, topic in enumerate(topics):
        report("subtopics", 0.5 + 0.5 * index / max(len(topics), 1))
        _add_subtopics(topic, unit, counts, vocab, seed=seed, min_topic_size=min_topic_size, taken=taken)
        for s, child in enumerate(topic.children):
            row_sub[child.rows] = s
    report("done", 1.0)
    return Discovery(topics, labels, row_sub)


def _add_subtopics(
    topic: Cluster,
    unit: Vectors,
    counts: sparse.csr_matrix,
    vocab: npt.NDArray[np.str_],
    *,
    seed: int,
    min_topic_size: int,
    taken: set[str],
) -> None:
    k = subcluster_count(topic.size, min_topic_size)
    if k < 2:
        return
    sub = _absorb_small(unit[topic.rows], _kmeans(unit[topic.rows], k, seed), min_topic_size)
    if int(sub.max()) < 1:
        return
    avoid = {w for term in topic.terms for w in term.split()}
    topic.children = build_clusters(
        unit, sub, topic.rows, counts, vocab, taken=taken, key_prefix=topic.key + "/", avoid=avoid
    )


def split_rows(
    texts: Sequence[str], vectors: npt.NDArray[np.floating], k: int, *, seed: int = 0, taken: set[str] | None = None
) -> list[Cluster]:
    """One topic's texts re-clustered into k groups, labelled against each other (the "split" edit)."""
    if k < 2 or len(texts) < k:
        raise ValueError(f"Cannot split {len(texts)} texts into {k} topics: need k >= 2 and at least k texts.")
    unit = normalise(vectors)
    labels = _renumber(_kmeans(unit, k, seed))
    counts, vocab = term_matrix(texts)
    return build_clusters(unit, labels, np.arange(len(unit), dtype=np.intp), counts, vocab, taken=taken or set())
