"""Fixtures for the Tokenizers tests: small tokenizer.json files built with the Hugging Face
`tokenizers` library (trained on a small corpus kept in this script), and the ids and
decoded strings the library gives for a corpus of test texts.

Run from the repository root (needs `pip install tokenizers`; `pip install gguf` for the
optional SmolLM2 check at the end):
    python3 scripts/make_tokenizer_fixtures.py
Writes Tests/Fixtures/tokenizers/*.json (the tokenizers), spm_metadata.json (GGUF-style
vocabulary, token types and scores) and expected.json (texts, ids, type ids, decoded strings).
Training breaks frequency ties in no fixed order, so a re-run may change some ids: the
tokenizers and their expected ids are always written together.

The tokenizers mirror the pipelines of real model families at a tiny scale:
  wordpiece_bert    BertNormalizer + BertPreTokenizer + WordPiece + Template [CLS] $A [SEP]
  gpt2_bytelevel    ByteLevel(regex) + BPE with legacy string merges ("a b", #version line)
  llama3_style      Split(Llama-3 regex) + ByteLevel(no regex) + BPE(ignore_merges, pair
                    merges) + Sequence[ByteLevel, Template <|begin_of_text|> $A]
  smollm_style      Sequence[Digits(individual), ByteLevel(regex)] + BPE
  llama2_legacy     Sequence[Prepend ▁, Replace " "→▁] + BPE(byte_fallback, fuse_unk, <unk>)
                    + Template <s> $A + decoder Replace/ByteFallback/Fuse/Strip
  metaspace_first   Metaspace(prepend_scheme first, split false) + the Llama-2 model
  metaspace_split   Metaspace(always, split true) + the Llama-2 model, Metaspace decoder
  llama2_from_scores  the Llama-2 pipeline with merges made from SentencePiece scores (as
                    transformers converts Llama-2); spm_metadata.json holds the tokens, types
                    and scores for the GGUF "llama" path
  qwen_style        NFC + Split(Qwen regex) + ByteLevel(no regex) + BPE
  wordlevel_misc    NFKD/StripAccents/Lowercase/Strip/Replace(regex) + WhitespaceSplit,
                    Punctuation(contiguous), Split(merged_with_previous / merged_with_next /
                    invert) + WordLevel + RobertaProcessing
  roberta_style     ByteLevel(add_prefix_space) + BPE + RobertaProcessing, <mask> with lstrip
  wordlevel_components  Nmt/NFD/Strip(left)/Replace + CharDelimiterSplit, Digits(grouped),
                    Split(removed / contiguous+invert / isolated+invert) + WordLevel + CTC decoder
  bpe_affixes       NFKC + Lowercase + Whitespace + BPE(continuing_subword_prefix ##,
                    end_of_word_suffix </w>) + BertProcessing + BPEDecoder
"""
import json
import os
import re

os.environ.setdefault("RAYON_NUM_THREADS", "1")  # steadier training output
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
import tokenizers  # noqa: E402
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers  # noqa: E402

OUT = os.path.join("Tests", "Fixtures", "tokenizers")

CORPUS = """The quick brown fox jumps over the lazy dog. The dog sleeps; the fox runs away!
It's a truth universally acknowledged, that a single man in possession of a good fortune must be in want of a wife.
I'm sure you're right, but we'll see. They've said it'd be fine, and he's coming at 10:30 tomorrow.
Numbers: 0 1 2 3 4 5 6 7 8 9 10 42 100 123 2024 31415 1000000, prices $5.00 and €12,50; dates 2024-01-01.
Unaffable co-operation is unusual; re-entry, pre-processing and non-trivial tokenization happen every day.
Naïve café résumé façade coöperate Ångström über straße — smart “quotes” and ‘apostrophes’ … too.
東京は日本の首都です。你好世界！北京欢迎你。안녕하세요 세계. こんにちは、世界。
Привет, мир! Γειά σου κόσμε. مرحبا بالعالم. שלום עולם. नमस्ते दुनिया।
def tokenize(text):
    return [word for word in text.split() if word]  # a comment
    if x >= 10 and y != 3: print("hello, world")
Emoji: 😀 😃 🙂 🎉 👍🏽 👩‍👩‍👧 ❤️ — and math: x² + y² = z², ½ ⅓ Ⅻ, fullwidth ＡＢＣ１２３.
Whitespace   runs,	tabs		and
blank lines

and more text after them. HELLO World, hello WORLD, Hello world.
Supercalifragilisticexpialidocious is a very long word; pneumonoultramicroscopicsilicovolcanoconiosis is longer.
https://example.com/path?query=value&other=1 user@example.org #hashtag @mention
The end of the corpus, with lots of repeated words: the the the and and of of to to in in is is it it.
"""

TEXTS = [
    "",
    " ",
    "Hello world!",
    "The quick brown fox jumps over the lazy dog.",
    "Héllo, WORLD! Naïve café.",
    "unaffable co-operation $5.00",
    "I'm sure you're right, but we'LL see. It'S fine, they'VE said.",
    "Numbers 1234567890 3.14159 2024-01-01 and ١٢٣ and ½ Ⅻ x²",
    "a  b   c\n\nd\t\te \r\nf\u000bg\u000ch\u0085i\u3000j",
    "   leading and trailing spaces   ",
    "\n\nfox's 12345",
    " The quick  brown\n\nfox's 12345",
    "東京 你好世界 and 北京欢迎你 안녕하세요 こんにちは",
    "Привет мир. Γειά σου. مرحبا. שלום. नमस्ते।",
    "emoji 😀🎉 👍🏽 👩‍👩‍👧 ❤️ end",
    "naïve café 😀",
    "e\u0301 vs é, ﬁ ligature, ＡＢＣ１２３ fullwidth, Å vs Å",
    "a\u200bb\tc\u00a0d\u0000e\u0001f\ufffdg",
    "Supercalifragilisticexpialidocious pneumonoultramicroscopicsilicovolcanoconiosis",
    "x" * 150 + " " + "ab" * 80,
    "def f(x):\n    return x**2  # square\n",
    "https://example.com/a?b=c&d=e user@example.org",
    "[CLS] x [SEP] [MASK] <s>hi</s> <unk>",
    "<|endoftext|>Hello<|im_start|>user\nhi<|im_end|>\n",
    "<|begin_of_text|>The end<|end_of_text|>",
    "Hello [MASK]  there, my friend [MASK]!",
    "HeLLo WoRLD, hello world, HELLO WORLD",
    "Punctuation!!! ... ?! ¿¡ «quotes» “smart” — dash – en ‹›",
    "tabs\tand\tnewlines\nand\r\ncarriage\rreturns",
    "   \n\n\t  ",
    "amy friends, my friend. My Friend! <mask>x <mask>  y <mask>\n",
    "<s> hi</s>there [CLS]again<|im_end|> x",
    "ab abab  aab 12 3456 a-b-c ~~ cd\u2581ef \u0007bell",
]

PAIRS = [(2, 3), (4, 6), (0, 2), (12, 5)]

SPECIALS_BERT = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def train(tokenizer, trainer):
    lines = CORPUS.split("\n") * 3
    tokenizer.train_from_iterator(lines, trainer=trainer)
    return tokenizer


def wordpiece_bert():
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]", max_input_chars_per_word=40))
    tok.normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True, strip_accents=None, lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    train(tok, trainers.WordPieceTrainer(vocab_size=700, special_tokens=SPECIALS_BERT))
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", cls), ("[SEP]", sep)])
    tok.decoder = decoders.WordPiece(prefix="##", cleanup=True)
    # [MASK] swallows the whitespace on its left (RoBERTa's <mask> does this); a normalized,
    # non-special added token is matched in the lowercased text.
    tok.add_special_tokens([AddedToken("[MASK]", lstrip=True, rstrip=False, special=True, normalized=False)])
    tok.add_tokens([AddedToken("My Friend", normalized=True, special=False, single_word=True)])
    tok.enable_truncation(128)
    tok.enable_padding(pad_id=tok.token_to_id("[PAD]"), pad_token="[PAD]", length=128)
    return tok


def byte_level_bpe(pre_tokenizer, specials, normalizer=None, vocab_size=700):
    tok = Tokenizer(models.BPE())
    if normalizer is not None:
        tok.normalizer = normalizer
    tok.pre_tokenizer = pre_tokenizer
    train(tok, trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials,
                                   initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False))
    tok.decoder = decoders.ByteLevel()
    return tok


def with_string_merges(tok):
    """The JSON with merges written as legacy "a b" strings after a #version line."""
    data = json.loads(tok.to_str())
    merges = data["model"]["merges"]
    if merges and isinstance(merges[0], list):
        data["model"]["merges"] = ["#version: 0.2"] + [f"{a} {b}" for a, b in merges]
    return Tokenizer.from_str(json.dumps(data, ensure_ascii=False)), data


LLAMA3 = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
QWEN = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"


def llama3_style():
    pre = pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(LLAMA3), behavior="isolated", invert=False),
                                   pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    tok = byte_level_bpe(pre, ["<|begin_of_text|>", "<|end_of_text|>", "<|reserved_special_token_0|>"])
    data = json.loads(tok.to_str())
    model = data["model"]
    model["ignore_merges"] = True
    # Whole words in the vocabulary that merging would not produce: with ignore_merges they are one token.
    base = max(model["vocab"].values()) + 1
    for i, word in enumerate(["Ġsupercalifragilistic", "Ġquickbrown", "Hello"]):
        if word not in model["vocab"]:
            model["vocab"][word] = base + i
    for token in data["added_tokens"]:
        token["id"] += 3
    tok = Tokenizer.from_str(json.dumps(data, ensure_ascii=False))
    bos = tok.token_to_id("<|begin_of_text|>")
    tok.post_processor = processors.Sequence([
        processors.ByteLevel(trim_offsets=False),
        processors.TemplateProcessing(single="<|begin_of_text|> $A", pair="<|begin_of_text|> $A <|begin_of_text|>:1 $B:1",
                                      special_tokens=[("<|begin_of_text|>", bos)]),
    ])
    return tok


def smollm_style():
    pre = pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True),
                                   pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)])
    tok = byte_level_bpe(pre, ["<|endoftext|>", "<|im_start|>", "<|im_end|>"])
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    return tok


def qwen_style():
    pre = pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(QWEN), behavior="isolated", invert=False),
                                   pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    tok = byte_level_bpe(pre, ["<|endoftext|>", "<|im_start|>", "<|im_end|>"], normalizer=normalizers.NFC())
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    return tok


def gpt2_bytelevel():
    tok = byte_level_bpe(pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True), ["<|endoftext|>"])
    tok.post_processor = processors.ByteLevel(trim_offsets=True)
    tok, _ = with_string_merges(tok)
    return tok


def sentencepiece_model():
    """A Llama-2-like BPE: <unk> <s> </s> at 0-2, byte tokens <0x00>… at 3-258 (without
    <0xF0>, so 4-byte characters fall back to <unk>), then merges learned on ▁-joined text."""
    trainer_tok = Tokenizer(models.BPE())
    trainer_tok.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    trainer_tok.pre_tokenizer = pre_tokenizers.Split("▁", behavior="merged_with_next")
    alphabet = sorted(set("▁abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,;:!?'\"-()éèàçöü"))
    train(trainer_tok, trainers.BpeTrainer(vocab_size=600, initial_alphabet=alphabet, limit_alphabet=len(alphabet),
                                           show_progress=False))
    learned = json.loads(trainer_tok.to_str())["model"]
    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2}
    for b in range(256):
        if b != 0xF0:
            vocab[f"<0x{b:02X}>"] = len(vocab)
    for token, _ in sorted(learned["vocab"].items(), key=lambda kv: kv[1]):
        if token not in vocab:
            vocab[token] = len(vocab)
    merges = [tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in learned["merges"]]
    return vocab, merges


def sentencepiece_tokenizer(vocab, merges):
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges, unk_token="<unk>", byte_fallback=True, fuse_unk=True))
    tok.add_special_tokens([AddedToken("<unk>", special=True, normalized=False), AddedToken("<s>", special=True, normalized=False),
                            AddedToken("</s>", special=True, normalized=False)])
    return tok


def llama2_legacy(vocab, merges):
    tok = sentencepiece_tokenizer(vocab, merges)
    tok.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A <s>:1 $B:1", special_tokens=[("<s>", 1)])
    tok.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(), decoders.Strip(" ", 1, 0)])
    return tok


def metaspace_first(vocab, merges):
    tok = sentencepiece_tokenizer(vocab, merges)
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first", split=False)
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A <s>:1 $B:1", special_tokens=[("<s>", 1)])
    tok.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(), decoders.Strip(" ", 1, 0)])
    return tok


def metaspace_split(vocab, merges):
    tok = sentencepiece_tokenizer(vocab, merges)
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    tok.decoder = decoders.Sequence([decoders.ByteFallback(), decoders.Metaspace(replacement="▁", prepend_scheme="always")])
    return tok


def spm_metadata(vocab):
    """GGUF-style SentencePiece metadata for the Llama-2-like vocabulary: tokens in id order,
    token types (2 unknown, 3 control, 6 byte, 1 normal) and scores (-id for normal pieces,
    so every piece has its own score, 0 for the others)."""
    tokens = [t for t, _ in sorted(vocab.items(), key=lambda kv: kv[1])]
    types = [2 if t == "<unk>" else 3 if t in ("<s>", "</s>") else 6 if re.fullmatch(r"<0x[0-9A-F]{2}>", t) else 1
             for t in tokens]
    scores = [-float(i) if ty == 1 else 0.0 for i, ty in enumerate(types)]
    return {"tokens": tokens, "token_types": types, "scores": scores}


def llama2_from_scores(metadata):
    """The Llama-2 pipeline with merges made from scores as transformers' Llama converter does:
    every split of a normal piece into two vocabulary entries, ordered by the piece's score
    (highest first), then by the ids of the two parts. Its ids are what
    Tokenizer(ggufModel: "llama", …) must give for the metadata."""
    vocab = {t: i for i, t in enumerate(metadata["tokens"])}
    merges = []
    order = sorted(range(len(vocab)), key=lambda i: -metadata["scores"][i])
    for i in order:
        piece = metadata["tokens"][i]
        if metadata["token_types"][i] != 1:
            continue
        local = [(piece[:k], piece[k:]) for k in range(1, len(piece)) if piece[:k] in vocab and piece[k:] in vocab]
        merges.extend(sorted(local, key=lambda lr: (vocab[lr[0]], vocab[lr[1]])))
    return llama2_legacy(vocab, merges)


def roberta_style():
    tok = byte_level_bpe(pre_tokenizers.ByteLevel(add_prefix_space=True, use_regex=True), ["<s>", "<pad>", "</s>", "<unk>"])
    tok.post_processor = processors.RobertaProcessing(("</s>", tok.token_to_id("</s>")), ("<s>", tok.token_to_id("<s>")),
                                                      trim_offsets=True, add_prefix_space=True)
    tok.add_special_tokens([AddedToken("<mask>", lstrip=True, rstrip=False, special=True, normalized=False)])
    return tok


def wordlevel_components():
    tok = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    tok.normalizer = normalizers.Sequence([
        normalizers.Nmt(), normalizers.NFD(), normalizers.Strip(left=True, right=False), normalizers.Replace("ab", "AB")])
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.CharDelimiterSplit(" "),
        pre_tokenizers.Digits(individual_digits=False),
        pre_tokenizers.Split(Regex("[0-9]"), behavior="removed"),
        pre_tokenizers.Split("AB", behavior="contiguous", invert=True),
        pre_tokenizers.Split(Regex("-"), behavior="isolated", invert=True),
    ])
    train(tok, trainers.WordLevelTrainer(vocab_size=300, special_tokens=["[UNK]", "<pad>"]))
    tok.decoder = decoders.CTC(pad_token="<pad>", word_delimiter_token="-", cleanup=True)
    return tok


def wordlevel_misc():
    tok = Tokenizer(models.WordLevel(unk_token="<unk>"))
    tok.normalizer = normalizers.Sequence([
        normalizers.NFKD(), normalizers.StripAccents(), normalizers.Lowercase(), normalizers.Strip(left=True, right=True),
        normalizers.Replace(Regex(r"[0-9]+"), "0"), normalizers.NFKC()])
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.WhitespaceSplit(),
        pre_tokenizers.Punctuation(behavior="contiguous"),
        pre_tokenizers.Split("-", behavior="merged_with_previous"),
        pre_tokenizers.Split(Regex("[aeiou]"), behavior="merged_with_next", invert=True),
    ])
    train(tok, trainers.WordLevelTrainer(vocab_size=400, special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"]))
    tok.post_processor = processors.RobertaProcessing(("</s>", tok.token_to_id("</s>")), ("<s>", tok.token_to_id("<s>")))
    tok.add_special_tokens([AddedToken("<mask>", lstrip=True, rstrip=True, special=True, normalized=False)])
    tok.decoder = decoders.Sequence([decoders.Replace(Regex("o+"), "0"), decoders.Strip("z", 1, 1)])
    return tok


def bpe_affixes():
    tok = Tokenizer(models.BPE(continuing_subword_prefix="##", end_of_word_suffix="</w>", unk_token="[UNK]"))
    tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    train(tok, trainers.BpeTrainer(vocab_size=600, special_tokens=["[UNK]", "[CLS]", "[SEP]"], continuing_subword_prefix="##",
                                   end_of_word_suffix="</w>", limit_alphabet=60, show_progress=False))
    tok.post_processor = processors.BertProcessing(("[SEP]", tok.token_to_id("[SEP]")), ("[CLS]", tok.token_to_id("[CLS]")))
    tok.decoder = decoders.BPEDecoder(suffix="</w>")
    return tok


def expectations(tok):
    # The file's own truncation and padding are not applied by the Swift reader (callers choose).
    tok.no_truncation()
    tok.no_padding()
    out = {"encodings": [], "pairs": []}
    for text in TEXTS:
        with_special = tok.encode(text, add_special_tokens=True)
        without = tok.encode(text, add_special_tokens=False)
        ids = without.ids
        out["encodings"].append({
            "ids": with_special.ids,
            "ids_no_special": ids,
            "decoded": tok.decode(with_special.ids, skip_special_tokens=False),
            "decoded_skip_special": tok.decode(with_special.ids, skip_special_tokens=True),
            # One id fewer: byte-level and byte-fallback tokenizers then decode a partial character.
            "decoded_prefix": tok.decode(ids[:-1], skip_special_tokens=False),
        })
    for a, b in PAIRS:
        enc = tok.encode(TEXTS[a], TEXTS[b], add_special_tokens=True)
        out["pairs"].append({"first": a, "second": b, "ids": enc.ids, "type_ids": enc.type_ids})
    out["vocab_size"] = max(list(tok.get_vocab(with_added_tokens=True).values())) + 1
    out["special_ids"] = sorted(i for i, t in tok.get_added_tokens_decoder().items() if t.special)
    vocab = tok.get_vocab(with_added_tokens=True)
    probes = sorted(vocab)[:5] + sorted(vocab)[-5:]
    out["token_ids"] = {t: vocab[t] for t in probes}
    return out


def main():
    os.makedirs(OUT, exist_ok=True)
    vocab, merges = sentencepiece_model()
    metadata = spm_metadata(vocab)
    with open(os.path.join(OUT, "spm_metadata.json"), "w", encoding="utf-8") as f:
        json.dump(metadata, f, ensure_ascii=False, separators=(",", ":"))
    builders = {
        "wordpiece_bert": wordpiece_bert,
        "gpt2_bytelevel": gpt2_bytelevel,
        "llama3_style": llama3_style,
        "smollm_style": smollm_style,
        "qwen_style": qwen_style,
        "llama2_legacy": lambda: llama2_legacy(vocab, merges),
        "metaspace_first": lambda: metaspace_first(vocab, merges),
        "metaspace_split": lambda: metaspace_split(vocab, merges),
        "llama2_from_scores": lambda: llama2_from_scores(metadata),
        "roberta_style": roberta_style,
        "wordlevel_misc": wordlevel_misc,
        "wordlevel_components": wordlevel_components,
        "bpe_affixes": bpe_affixes,
    }
    expected = {"tokenizers_version": tokenizers.__version__, "texts": TEXTS, "tokenizers": {}}
    for name, build in builders.items():
        tok = build()
        text = tok.to_str()
        if name == "gpt2_bytelevel":
            _, data = with_string_merges(tok)
            text = json.dumps(data, ensure_ascii=False)
        data = json.loads(text)
        path = os.path.join(OUT, name + ".json")
        with open(path, "w", encoding="utf-8") as f:
            json.dump(data, f, ensure_ascii=False, separators=(",", ":"))
        reread = Tokenizer.from_file(path)  # the expectations come from the file as written
        expected["tokenizers"][name] = expectations(reread)
        print(f"{name}: {os.path.getsize(path)} bytes")
    with open(os.path.join(OUT, "expected.json"), "w", encoding="utf-8") as f:
        json.dump(expected, f, ensure_ascii=False, separators=(",", ":"))
    total = sum(os.path.getsize(os.path.join(OUT, n)) for n in os.listdir(OUT))
    print(f"expected.json: {os.path.getsize(os.path.join(OUT, 'expected.json'))} bytes; folder total {total} bytes")
    check_smollm2()


def check_smollm2():
    """Checks the SmolLM2 oracle ids of research note 6.8 with a tokenizer rebuilt from the
    GGUF's vocabulary (when the test model was fetched); stores nothing."""
    path = os.path.expanduser("~/.cache/rankwise/test-models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")
    if not os.path.exists(path):
        print("SmolLM2 GGUF not present; skipping its check")
        return
    try:
        from gguf import GGUFReader
    except ImportError:
        print("gguf not installed; skipping the SmolLM2 check")
        return
    fields = GGUFReader(path).fields
    tokens = fields["tokenizer.ggml.tokens"].contents()
    merges = [tuple(m.split(" ")) for m in fields["tokenizer.ggml.merges"].contents()]
    types = fields["tokenizer.ggml.token_type"].contents()
    tok = Tokenizer(models.BPE(vocab={t: i for i, t in enumerate(tokens)}, merges=merges))
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True),
                                                 pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)])
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t, ty in zip(tokens, types) if ty == 3])
    oracle = {
        "Hello world! 2024": [19556, 905, 17, 216, 34, 32, 34, 36],
        " The quick  brown\n\nfox's 12345": [378, 2365, 216, 6354, 198, 198, 29343, 506, 216, 33, 34, 35, 36, 37],
        "naïve café 😀": [3546, 46494, 37366, 40303, 218],
        "<|im_start|>user\nhi<|im_end|>": [1, 4093, 198, 6004, 2],
    }
    for text, ids in oracle.items():
        got = tok.encode(text).ids
        print(f"SmolLM2 {text!r}: {'ok' if got == ids else f'MISMATCH {got}'}")


if __name__ == "__main__":
    main()
