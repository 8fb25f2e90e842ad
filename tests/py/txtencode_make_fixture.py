#!/usr/bin/env python3
"""txtencode_make_fixture.py - expected token ids from CLIP's own tokenizer.

Writes into testdata/txtencode/:
  tokens-imagenet80.txt.gz  ids of all 1000 x 80 filled templates
                            (data/names-clip.txt x data/templates-clip.txt,
                            class-major), one prompt per line:
                            [49406] + encode(text) + [49407], space-separated,
                            not padded, not truncated (txtencode --tokenize's form)
  tricky.json               the tricky strings as a txtencode --prompts file
  tricky-expected.json      per tricky string: "text", "clip" (CLIP's ids),
                            "expected" (the ids of CLIP's pipeline with ftfy's
                            fix_encoding off: what txtencode must produce),
                            "departure" (the two differ: ftfy repaired mojibake),
                            "truncated" (clip.tokenize(truncate=True)'s row, unpadded)

Reference: simple_tokenizer.py of the PyPI package openai-clip 1.0.1 (a copy of
openai/CLIP's), ftfy 6.3.1 from PyPI, Debian's python3-regex. Get them with
  pip download --no-deps openai-clip==1.0.1 ftfy==6.3.1; tar xzf / unzip them
  apt-get install python3-regex python3-wcwidth
  /usr/bin/python3 tests/py/txtencode_make_fixture.py --clip DIR/openai-clip-1.0.1 --ftfy DIR/ftfy
(--ftfy names the directory that contains the ftfy package). Only the
tokenizer module is imported (clip/__init__.py would pull in torch and more).
"""
import argparse
import gzip
import html
import importlib.util
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ap = argparse.ArgumentParser()
ap.add_argument("--clip", required=True, help="unpacked openai-clip sdist (has clip/simple_tokenizer.py)")
ap.add_argument("--ftfy", required=True, help="directory containing the ftfy package")
args = ap.parse_args()
sys.path.insert(0, args.ftfy)
import ftfy  # noqa: E402

spec = importlib.util.spec_from_file_location("simple_tokenizer",
                                              os.path.join(args.clip, "clip", "simple_tokenizer.py"))
st = importlib.util.module_from_spec(spec)
spec.loader.exec_module(st)
tok = st.SimpleTokenizer(os.path.join(ROOT, "data/clip/bpe_simple_vocab_16e6.txt.gz"))
SOT, EOT = tok.encoder["<|startoftext|>"], tok.encoder["<|endoftext|>"]


def clip_ids(text):
    return [SOT] + tok.encode(text) + [EOT]


def expected_ids(text):
    """CLIP's encode with ftfy's fix_encoding (mojibake repair) switched off."""
    text = ftfy.fix_text(text, fix_encoding=False)
    text = html.unescape(html.unescape(text)).strip()
    text = st.whitespace_clean(text).lower()
    ids = []
    for piece in st.re.findall(tok.pat, text):
        piece = "".join(tok.byte_encoder[b] for b in piece.encode("utf-8"))
        ids.extend(tok.encoder[b] for b in tok.bpe(piece).split(" "))
    return [SOT] + ids + [EOT]


def truncated(ids, ctx=77):
    if len(ids) <= ctx:
        return ids
    ids = ids[:ctx]
    ids[-1] = EOT
    return ids


TRICKY = [
    # punctuation and apostrophes
    "a photo of a dog's toy.", "it's, isn't it? they're here; we've gone - I'm sure you'll say I'd go",
    "DOG'S", "the dogs' bowl", "''s", "'s'", "rock 'n' roll", "o'clock", "jack-o'-lantern",
    "yellow lady's slipper", "potter's wheel", "carpenter's kit",
    "hello!!! ??? ... --- ,,, ;;; ::: ((( ))) [[[ ]]] {{{ }}}", "a.b.c", "e-mail@example.com",
    "100% #1 $5 & more ~ ^ ` | \\ / <>", "C++ & C#", "a<|endoftext|>b", "<|startoftext|>x",
    "<|ENDOFTEXT|>", "!<|endoftext|>", "'ſ and <|ſtartoftext|>",
    # digits
    "1234567890", "3.14159 and 2,718", "route 66 in 1999", "½ ² ³ ⅕ Ⅻ ① ٣ ४",
    # case, spacing, control characters
    "  MiXeD   CaSe\tTabs\nNewlines\r\nCRLF  ", "\u00a0nbsp\u2003em space\u3000ideographic",
    "zero\u200bwidth\u200djoiner", "soft\u00adhyphen", "bell\x07and\x1bescape", "\x1b[31mred\x1b[0m text",
    "line\u2028separator\u2029para\x85nel", "bom\ufefffirst", "",
    # non-ASCII
    "café crème brûlée", "cafe\u0301 (decomposed)", "naïve façade jalapeño", "Ærøskøbing Ångström",
    "straße STRASSE ẞ", "İstanbul ıi", "ΟΔΟΣ σοφός ΣΑΣ Σ", "Москва́ ёж", "日本語のテキスト", "中文字符",
    "한국어 텍스트", "\u1100\u1161\u11a8 jamo", "عربي", "עברית", "हिन्दी", "ไทย", "emoji 😀🐶🇫🇷👨‍👩‍👧",
    "ﬁsh ﬂower ﬀ ﬃ ﬆ Ĳ ǅ", "ＦＵＬＬＷＩＤＴＨ　ｔｅｘｔ １２３", "ｶﾞﾀｶﾅ", "“curly” ‘quotes’ ʼ‛‟",
    "Kelvin K and Ångström Å", "ᾼ ᾳ", "\u0345 iota",
    # HTML entities
    "AT&amp;T", "&lt;b&gt;bold&lt;/b&gt;", "&amp;amp;amp;", "&amp", "fish &amp chips", "&copy 2024",
    "&notit; &notin; &not", "&#39;quoted&#39; &#x27;hex&#x27;", "&#0; &#128; &#x110000; &#xD800; &#59;",
    "&NTILDE; &Eacute; &EACUTE;", "P&EACUTE;REZ", "&ampfoo;", "&#65a;", "<tag> &amp; stays", "&nbsp;x&nbsp;",
    "&unknownentity;", "&#1234567890123;",
    # mojibake that ftfy repairs (the documented departure)
    "cafÃ© crÃ¨me", "â€œquotedâ€\x9d", "Ã¼ber", "sÃ³", "voilÃ\xa0 le travail",
    # long
    "a photo of " + " ".join(["a very long list of words"] * 20),
]


def main():
    out = os.path.join(ROOT, "testdata/txtencode")
    os.makedirs(out, exist_ok=True)
    names = open(os.path.join(ROOT, "data/names-clip.txt"), encoding="utf-8").read().splitlines()
    templates = open(os.path.join(ROOT, "data/templates-clip.txt"), encoding="utf-8").read().splitlines()
    lines = [" ".join(map(str, clip_ids(t.format(n)))) for n in names for t in templates]
    with gzip.GzipFile(os.path.join(out, "tokens-imagenet80.txt.gz"), "wb", mtime=0) as f:
        f.write(("\n".join(lines) + "\n").encode())
    tricky = TRICKY
    with open(os.path.join(out, "tricky.json"), "w", encoding="utf-8") as f:
        json.dump({"tricky": tricky}, f, ensure_ascii=False, indent=0)
        f.write("\n")
    rows = []
    for s in tricky:
        c, e = clip_ids(s), expected_ids(s)
        rows.append({"text": s, "clip": c, "expected": e, "departure": c != e, "truncated": truncated(e)})
    with open(os.path.join(out, "tricky-expected.json"), "w", encoding="utf-8") as f:
        json.dump({"reference": "openai-clip 1.0.1 simple_tokenizer.py, ftfy %s, regex %s, Python %s" % (
            ftfy.__version__, st.re.__version__, sys.version.split()[0]), "rows": rows},
            f, ensure_ascii=False, indent=1)
        f.write("\n")
    print("%d prompts, %d tricky strings (%d departures)" % (len(lines), len(rows),
                                                            sum(r["departure"] for r in rows)))


main()
