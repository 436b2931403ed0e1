"""Sentencepiece BPE tokenizer: training and export in the files llama.cpp's converter reads.

Settings that keep llama.cpp's tokenizer and sentencepiece in agreement (LLM-TOOLCHAIN.md):
BPE, normalization "identity", byte fallback on, no whitespace collapsing inside sentencepiece
(callers collapse runs of spaces themselves: `clean`). Ids: <unk>=0, <s>=1, </s>=2.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from typing import Iterable, List, Sequence

import sentencepiece as spm

UNK, BOS, EOS = "<unk>", "<s>", "</s>"


def clean(text: str) -> str:
    """Collapses every whitespace run to one space and trims: the form all text is tokenised in."""
    return " ".join(text.split())


def train_tokenizer(lines: Iterable[str], out_path: str, vocab_size: int, seed: int = 1) -> "Tokenizer":
    """Trains a BPE model on lines (one sentence each) and writes it to out_path (tokenizer.model)."""
    tmp = tempfile.mkdtemp(prefix="slt-spm-")
    try:
        corpus = os.path.join(tmp, "corpus.txt")
        n = 0
        with open(corpus, "w", encoding="utf-8") as f:
            for line in lines:
                line = clean(line)
                if line:
                    f.write(line + "\n")
                    n += 1
        if n == 0:
            raise ValueError("tokenizer: no training text (all lines empty)")
        spm.SentencePieceTrainer.train(
            input=corpus, model_prefix=os.path.join(tmp, "sp"), model_type="bpe",
            vocab_size=vocab_size, normalization_rule_name="identity", byte_fallback=True,
            remove_extra_whitespaces=False, add_dummy_prefix=True, split_digits=True,
            character_coverage=1.0, unk_id=0, bos_id=1, eos_id=2, pad_id=-1,
            unk_piece=UNK, bos_piece=BOS, eos_piece=EOS, hard_vocab_limit=False,
            num_threads=1, minloglevel=2, input_sentence_size=0,
        )
        os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
        shutil.copyfile(os.path.join(tmp, "sp.model"), out_path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return Tokenizer(out_path)


class Tokenizer:
    def __init__(self, model_path: str):
        if not os.path.exists(model_path):
            raise FileNotFoundError(f"tokenizer model {model_path} not found; train one with "
                                    f"python -m train.slt.train_lm (it writes tokenizer.model)")
        self.path = model_path
        self.sp = spm.SentencePieceProcessor(model_file=model_path)
        self.bos_id, self.eos_id, self.unk_id = self.sp.bos_id(), self.sp.eos_id(), self.sp.unk_id()

    def __len__(self) -> int:
        return self.sp.get_piece_size()

    def encode(self, text: str) -> List[int]:
        """Ids of text without BOS/EOS (llama.cpp adds BOS itself when add_bos_token is set)."""
        return list(self.sp.encode(text))

    def encode_sampled(self, text: str, alpha: float) -> List[int]:
        """Ids of " " + text with BPE-dropout: each merge is skipped with probability alpha.
        With alpha 0 this equals the ids that follow the prompt in encode(prompt + " " + text),
        since pieces never cross a space."""
        return list(self.sp.encode(clean(text), enable_sampling=alpha > 0, alpha=alpha, nbest_size=-1))

    def decode(self, ids: Sequence[int]) -> str:
        return self.sp.decode([i for i in ids if i not in (self.bos_id, self.eos_id)])

    def pieces(self, text: str) -> List[str]:
        return list(self.sp.encode(text, out_type=str))

    def export(self, out_dir: str) -> None:
        """Writes tokenizer.model, tokenizer_config.json, special_tokens_map.json, tokenizer.json."""
        os.makedirs(out_dir, exist_ok=True)
        dst = os.path.join(out_dir, "tokenizer.model")
        if os.path.abspath(dst) != os.path.abspath(self.path):
            shutil.copyfile(self.path, dst)
        specials = [(self.unk_id, UNK), (self.bos_id, BOS), (self.eos_id, EOS)]
        for i, piece in specials:
            if self.sp.id_to_piece(i) != piece:
                raise ValueError(f"{self.path}: id {i} is {self.sp.id_to_piece(i)!r}, expected {piece!r}")
        write_json(os.path.join(out_dir, "tokenizer_config.json"), {
            "tokenizer_class": "LlamaTokenizer",
            "add_bos_token": True,
            "add_eos_token": False,
            "bos_token": BOS,
            "eos_token": EOS,
            "unk_token": UNK,
            "pad_token": None,
            "clean_up_tokenization_spaces": False,
            "legacy": True,
            "model_max_length": 4096,
            "sp_model_kwargs": {},
        })
        write_json(os.path.join(out_dir, "special_tokens_map.json"), {
            "bos_token": BOS, "eos_token": EOS, "unk_token": UNK,
            "additional_special_tokens": [],
        })
        # Only added_tokens matter: the converter reads the vocabulary from tokenizer.model and
        # takes the special-token ids from here.
        write_json(os.path.join(out_dir, "tokenizer.json"), {
            "version": "1.0",
            "added_tokens": [{"id": i, "content": p, "single_word": False, "lstrip": False,
                              "rstrip": False, "normalized": False, "special": True}
                             for i, p in specials],
        })


def write_json(path: str, obj) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, indent=2)
        f.write("\n")
