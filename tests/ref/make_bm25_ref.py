#!/usr/bin/python3
"""BM25 reference for tests/test_shop_bm25.c, written from the published
formula (Robertson and Zaragoza 2009; Lucene's BM25Similarity idf), not from
eef's code:

    idf(t)   = ln(1 + (N - df(t) + 0.5) / (df(t) + 0.5))
    score(q, d) = sum over the query's terms t (repeats count) of
                  idf(t) * tf(t, d) * (k1 + 1) / (tf(t, d) + k1 (1 - b + b |d| / avgdl))

with Pyserini's k1 = 0.9, b = 0.4 (WebShop's index), exact document lengths
|d| (terms after analysis), ranking by score descending and ties by the
lower document index, top 50.  The analyzer is the one eef documents for its
search (src/env/shop/shop_internal.h, docs/shop.md): lowercase ASCII, terms
are runs of letters, digits and non-ASCII bytes (U+2019 separates, as an
apostrophe does), a term keeps its first 63 bytes, the "s" of a possessive
is dropped, Lucene's English stop words are dropped, then Harman's S-stemmer
(words of 4+ bytes not starting with a digit; "-ies" -> "-y" for 5+ bytes).

Input: tests/fixtures/bm25/docs.txt (one document a line, as eef builds it:
title, description, first bullet, options; written by test_shop_bm25 with
EEF_UPDATE_FIXTURES=1) and tests/fixtures/bm25/queries.txt.  Output:
tests/fixtures/bm25/ref.txt:

    N avgdl
    knorm DOC VALUE              k1 (1 - b + b |d| / avgdl), every document
    query TEXT
    idf TERM VALUE               each analysed query term known to the index
    hit RANK DOC SCORE           the top 60 (the test reads 50, and the next
                                 ones to judge near-ties at the cut)
    end

Run: /usr/bin/python3 tests/ref/make_bm25_ref.py (standard library only).
"""
import math
import os

K1, B, TOP = 0.9, 0.4, 60
HERE = os.path.dirname(os.path.abspath(__file__))
FIX = os.path.join(HERE, "..", "fixtures", "bm25")

STOP = {w.encode() for w in {"a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into",
        "is", "it", "no", "not", "of", "on", "or", "such", "that", "the", "their", "then",
        "there", "these", "they", "this", "to", "was", "will", "with"}}
RQUOTE = b"\xe2\x80\x99"


def is_term_byte(c):
    return (48 <= c <= 57) or (65 <= c <= 90) or (97 <= c <= 122) or c >= 0x80


def s_stem(w):
    """Harman (1991): -ies -> -y (not -eies, -aies), -es -> -e (not -aes,
    -ees, -oes), -s -> '' (not -us, -ss)."""
    if len(w) < 4 or w[:1].isdigit():
        return w
    if len(w) > 4 and w.endswith(b"ies") and w[-4:-3] not in (b"e", b"a"):
        return w[:-3] + b"y"
    if w.endswith(b"es") and w[-3:-2] not in (b"a", b"e", b"o"):
        return w[:-1]
    if w.endswith(b"s") and w[-2:-1] not in (b"u", b"s"):
        return w[:-1]
    return w


def analyze(text):
    b = text.encode("utf-8")
    out, i, n = [], 0, len(b)
    while i < n:
        if b.startswith(RQUOTE, i):
            i += 3
            continue
        if not is_term_byte(b[i]):
            i += 1
            continue
        start = i
        while i < n and is_term_byte(b[i]) and not b.startswith(RQUOTE, i):
            i += 1
        w = b[start:i][:63].lower()
        # the "s" of a possessive: a lone s right after ' or U+2019
        if w == b"s" and start > 0 and (b[start - 1] == 0x27 or b[start - 3:start] == RQUOTE):
            continue
        if w in STOP:
            continue
        out.append(s_stem(w))
    return out


def main():
    docs = []
    with open(os.path.join(FIX, "docs.txt"), encoding="utf-8") as f:
        for line in f:
            idx, text = line.rstrip("\n").split("\t", 1)
            assert int(idx) == len(docs)
            docs.append(text)
    queries = [q.rstrip("\n") for q in open(os.path.join(FIX, "queries.txt"), encoding="utf-8")
               if q.strip() and not q.startswith("#")]
    N = len(docs)
    tf = []
    df = {}
    lens = []
    for d in docs:
        terms = analyze(d)
        lens.append(len(terms))
        counts = {}
        for t in terms:
            counts[t] = counts.get(t, 0) + 1
        tf.append(counts)
        for t in counts:
            df[t] = df.get(t, 0) + 1
    avgdl = sum(lens) / N
    idf = {t: math.log(1 + (N - n + 0.5) / (n + 0.5)) for t, n in df.items()}
    knorm = [K1 * (1 - B + B * l / avgdl) for l in lens]
    out = [f"{N} {avgdl:.17g}"]
    out += [f"knorm {d} {knorm[d]:.17g}" for d in range(N)]
    for q in queries:
        qt = [t for t in analyze(q) if t in df]
        out.append(f"query {q}")
        for t in sorted(set(qt)):
            out.append(f"idf {t.decode('utf-8')} {idf[t]:.17g}")
        scores = {}
        for t in qt:  # repeats count: one clause each
            for d in range(N):
                f = tf[d].get(t, 0)
                if f:
                    scores[d] = scores.get(d, 0.0) + idf[t] * f * (K1 + 1) / (f + knorm[d])
        ranked = sorted(scores.items(), key=lambda x: (-x[1], x[0]))[:TOP]
        out += [f"hit {r} {d} {s:.17g}" for r, (d, s) in enumerate(ranked)]
        out.append("end")
    with open(os.path.join(FIX, "ref.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(out) + "\n")
    print(f"{N} documents, {len(queries)} queries -> tests/fixtures/bm25/ref.txt")


if __name__ == "__main__":
    main()
