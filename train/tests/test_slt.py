"""Fast checks of the translator's training side (train/slt): seconds on one core."""
import json
import os
import random
import tempfile
import unittest

import torch

from train.slt import safetensors
from train.slt.bleu import corpus_bleu
from train.slt.data import Augment, PhoenixContext, load_manifest, load_phoenix, sample_prompt
from train.slt.export import PEFT_PREFIX, export_adapter, export_model, load_adapter, load_model
from train.slt.model import LlamaConfig, LlamaForCausalLM, LoRALinear, LoraConfig, rotate_half
from train.slt.prompt import Hypothesis, build_prompt, encode_example
from train.slt.tokenizer import train_tokenizer
from train.slt.trainer import Dist, Optim, WeightEMA, collate, loss_fn, make_batches, train

torch.set_num_threads(1)


def _json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def _bytes(path):
    with open(path, "rb") as f:
        return f.read()


def _write(path, data):
    with open(path, "wb" if isinstance(data, bytes) else "w") as f:
        f.write(data)

_WORDS = "morgen regen sonne wind nord sued schnee kalt warm wolken gewitter nacht tag grad".split()


def _lines(n=300, seed=0):
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        ws = [rng.choice(_WORDS) for _ in range(rng.randint(2, 6))]
        out += [" ".join(ws) + " .", " ".join(w.upper() for w in ws)]
    return out + ["ctx: gloss 0.50: text:"] * 20


class _Shared:
    tmp = None
    tok = None

    @classmethod
    def get(cls):
        if cls.tok is None:
            cls.tmp = tempfile.TemporaryDirectory()
            cls.tok = train_tokenizer(_lines(), os.path.join(cls.tmp.name, "tokenizer.model"), 300)
        return cls.tok


def _tiny(vocab, layers=2, hidden=32):
    torch.manual_seed(0)
    return LlamaForCausalLM(LlamaConfig(vocab_size=vocab, hidden_size=hidden, intermediate_size=64,
                                        num_hidden_layers=layers, num_attention_heads=4,
                                        num_key_value_heads=2, max_position_embeddings=128))


class SafetensorsTest(unittest.TestCase):
    def test_round_trip(self):
        ts = {"a.weight": torch.randn(3, 5), "b": torch.randn(7).half(), "c": torch.arange(6).reshape(2, 3),
              "empty": torch.zeros(0, 4)}
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "x.safetensors")
            safetensors.save_file(ts, p, metadata={"format": "pt"})
            back, meta = safetensors.load_file(p)
            raw = _bytes(p)
        self.assertEqual(meta, {"format": "pt"})
        self.assertEqual(set(back), set(ts))
        for k in ts:
            self.assertEqual(back[k].dtype, ts[k].dtype, k)
            self.assertTrue(torch.equal(back[k], ts[k]), k)
        n = int.from_bytes(raw[:8], "little")
        self.assertEqual(n % 8, 0, "tensor data must start 8-byte aligned")
        header = json.loads(raw[8:8 + n])
        self.assertEqual(header["a.weight"]["dtype"], "F32")
        self.assertEqual(header["a.weight"]["shape"], [3, 5])

    def test_truncated_file_is_an_error(self):
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "x.safetensors")
            safetensors.save_file({"a": torch.randn(100)}, p)
            data = _bytes(p)
            _write(p, data[:-40])
            with self.assertRaises(ValueError):
                safetensors.load_file(p)

    def test_unsupported_dtype_names_the_tensor(self):
        with tempfile.TemporaryDirectory() as d, self.assertRaisesRegex(ValueError, "bad"):
            safetensors.save_file({"bad": torch.zeros(2, dtype=torch.complex64)}, os.path.join(d, "x"))


class TokenizerExportTest(unittest.TestCase):
    def test_export_files_agree_with_model(self):
        tok = _Shared.get()
        model = _tiny(len(tok))
        with tempfile.TemporaryDirectory() as d:
            export_model(model, tok, d)
            cfg = _json(os.path.join(d, "config.json"))
            tj = _json(os.path.join(d, "tokenizer.json"))
            tc = _json(os.path.join(d, "tokenizer_config.json"))
            sm = _json(os.path.join(d, "special_tokens_map.json"))
            back, tok2 = load_model(d)
        self.assertEqual(cfg["vocab_size"], len(tok))
        self.assertEqual(cfg["architectures"], ["LlamaForCausalLM"])
        ids = {t["content"]: t["id"] for t in tj["added_tokens"]}
        self.assertEqual(ids, {"<unk>": tok.unk_id, "<s>": tok.bos_id, "</s>": tok.eos_id})
        self.assertEqual((tok.unk_id, tok.bos_id, tok.eos_id), (0, 1, 2))
        self.assertEqual(cfg["bos_token_id"], tok.bos_id)
        self.assertTrue(tc["add_bos_token"])
        self.assertFalse(tc["add_eos_token"])
        self.assertEqual(sm["additional_special_tokens"], [])
        text = "morgen regen im norden ."
        self.assertEqual(tok2.encode(text), tok.encode(text))
        self.assertEqual(tok.decode(tok.encode(text)), text)
        # Unknown characters fall back to bytes instead of <unk>.
        self.assertNotIn(tok.unk_id, tok.encode("Übermorgen €"))
        self.assertEqual(tok.decode(tok.encode("Übermorgen €")), "Übermorgen €")

    def test_exported_weights_are_fp16_values_with_hf_names(self):
        tok = _Shared.get()
        model = _tiny(len(tok))
        with tempfile.TemporaryDirectory() as d:
            export_model(model, tok, d)
            sd, _ = safetensors.load_file(os.path.join(d, "model.safetensors"))
        self.assertIn("model.embed_tokens.weight", sd)
        self.assertIn("model.layers.1.self_attn.q_proj.weight", sd)
        self.assertIn("model.layers.0.mlp.gate_proj.weight", sd)
        self.assertIn("model.norm.weight", sd)
        self.assertIn("lm_head.weight", sd)
        w = sd["model.layers.0.self_attn.k_proj.weight"]
        self.assertEqual(list(w.shape), [16, 32])
        self.assertTrue(torch.equal(w, w.half().float()))


class PromptTest(unittest.TestCase):
    def test_format_is_stable(self):
        p = build_prompt(["guten  abend\nliebe zuschauer .", "  "],
                         [Hypothesis("MORGEN  REGEN", 0.914), Hypothesis("MORGEN", 0.05), Hypothesis("REGEN", 1.7)])
        self.assertEqual(p, "ctx: guten abend liebe zuschauer .\n"
                            "gloss 0.91: MORGEN REGEN\ngloss 0.05: MORGEN\ngloss 1.00: REGEN\ntext:")
        self.assertEqual(build_prompt([], [Hypothesis("A B", 1.0)]), "gloss 1.00: A B\ntext:")
        with self.assertRaises(ValueError):
            build_prompt(["x"], [])

    def test_prompt_tokens_are_a_prefix(self):
        tok = _Shared.get()
        p = build_prompt(["morgen regen ."], [Hypothesis("MORGEN REGEN", 0.8)])
        ids, n = encode_example(tok, p, "morgen   sonne .")
        self.assertEqual(ids[:n], [tok.bos_id] + tok.encode(p))
        self.assertEqual(ids[-1], tok.eos_id)
        self.assertEqual(tok.decode(ids[n:]).strip(), "morgen sonne .")


class DataTest(unittest.TestCase):
    def test_phoenix_context_comes_from_earlier_sentences_of_the_broadcast(self):
        with tempfile.TemporaryDirectory() as d:
            w = lambda n, s: _write(os.path.join(d, n), s)
            w("train.ids", "01May_2010_Sat_tagesschau-10\n01May_2010_Sat_tagesschau-12\n02May_2010_Sun_heute-3\n")
            w("train.de", "eins .\ndrei .\nanders .\n")
            w("train.gloss", "EINS\nDREI\nANDERS\n")
            w("dev.ids", "01May_2010_Sat_tagesschau-11\n01May_2010_Sat_tagesschau-9\n")
            w("dev.de", "zwei .\nnull .\n")
            w("dev.gloss", "ZWEI\nNULL\n")
            p = lambda n: os.path.join(d, n)
            ctx = PhoenixContext([(p("train.ids"), p("train.de")), (p("dev.ids"), p("dev.de"))])
            turns = load_phoenix(p("train.gloss"), p("train.de"), p("train.ids"), ctx, max_context=2)
        self.assertEqual(turns[0].context, ["null ."])
        self.assertEqual(turns[1].context, ["eins .", "zwei ."])
        self.assertEqual(turns[2].context, [])
        self.assertEqual(ctx.before("01May_2010_Sat_tagesschau-12", 1), ["zwei ."])

    def test_manifest_signer_turns_with_dialogue_context(self):
        rows = [
            {"id": "d1-t00", "dialogue_id": "d1", "turn": 0, "speaker": "hearing", "signer_id": "s1", "split": "train",
             "text": "Good morning, how can I help?", "domain": "pharmacy"},
            {"id": "d1-t01", "dialogue_id": "d1", "turn": 1, "speaker": "signer", "signer_id": "s1", "split": "train",
             "glosses": ["MEDICINE", "TAKE"], "text": "How do I take the medicine?", "domain": "pharmacy"},
            {"id": "d2-t00", "dialogue_id": "d2", "turn": 0, "speaker": "signer", "signer_id": "s2", "split": "dev",
             "glosses": ["TICKET"], "text": "A ticket, please.", "domain": "service"},
        ]
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "manifest.jsonl"), "w") as f:
                f.write("\n".join(json.dumps(r) for r in rows) + "\n")
            tr = load_manifest(d, 2, ["train"])
            dv = load_manifest(d, 2, ["dev"])
            with self.assertRaisesRegex(ValueError, "no signer turns"):
                load_manifest(d, 2, ["train"], domain="service")
        self.assertEqual(len(tr), 1)
        self.assertEqual(tr[0].glosses, "MEDICINE TAKE")
        self.assertEqual(tr[0].context, ["Good morning, how can I help?"])
        self.assertEqual(dv[0].context, [])

    def test_training_views_keep_the_reference_among_hypotheses(self):
        from train.slt.data import Turn
        t = Turn("k", "A B C D", "a b c d .", ["vorher ."])
        rng = random.Random(3)
        for _ in range(200):
            ctx, hyps = sample_prompt(t, ["X", "Y"], rng, Augment(p_noisy_top=0.0))
            self.assertIn(len(hyps), (1, 2, 3))
            self.assertEqual(hyps[0].glosses, "A B C D")
            self.assertEqual([h.score for h in hyps], sorted((h.score for h in hyps), reverse=True))
            self.assertIn(ctx, ([], ["vorher ."]))


    def test_faithful_views_and_recognised_outputs(self):
        from train.slt.data import Turn, attach_recognised
        from train.slt.lexicon import Lexicon
        lex = {"format": "scope-lexicon/1", "function_words": ["a", "the", "to", "am"],
               "glosses": {"IX-1": {"forms": [["i"], ["my"]]}, "ALLERGIC": {"forms": [["allergic"]]},
                           "PENICILLIN": {"forms": [["penicillin"]], "critical": "allergen"},
                           "LATEX": {"forms": [["latex"]], "critical": "allergen"}}}
        l = Lexicon(lex)
        self.assertTrue(l.reachable("I am allergic to penicillin.", ["LATEX", "IX-1 ALLERGIC PENICILLIN"]))
        self.assertFalse(l.reachable("I am allergic to penicillin.", ["IX-1 ALLERGIC LATEX", "IX-1 PENICILLIN"]))
        self.assertEqual(l.unsupported("Anna am allergic", ["fs-ANNA"]), ["allergic"])
        t = Turn("d1-t01", "IX-1 ALLERGIC PENICILLIN", "I am allergic to penicillin.", ["Any allergies?"])
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "lexicon.json")
            with open(path, "w") as f:
                json.dump(lex, f)
            rec = os.path.join(d, "hyps.jsonl")
            with open(rec, "w") as f:
                f.write(json.dumps({"id": "d1-t01", "pass": 0, "hypotheses": [
                    {"glosses": ["IX-1", "ALLERGIC", "LATEX"], "score": -0.1},
                    {"glosses": ["IX-1", "ALLERGIC", "PENICILLIN"], "score": -1.2}]}) + "\n")
                f.write(json.dumps({"id": "other", "pass": 0, "hypotheses": []}) + "\n")
            self.assertEqual(attach_recognised([t], rec), 1)
            rng = random.Random(1)
            real = 0
            for _ in range(300):
                _, hyps = sample_prompt(t, ["LATEX", "IX-1", "ALLERGIC"], rng,
                                        Augment(p_real=0.5, p_noisy_top=0.5, noise_rate=0.5, lexicon=path))
                self.assertTrue(l.reachable(t.text, [h.glosses for h in hyps]), hyps)
                if hyps[0].glosses == "IX-1 ALLERGIC LATEX" and len(hyps) == 2:
                    real += 1
                    self.assertAlmostEqual(sum(h.score for h in hyps), 1.0, places=6)
                    self.assertGreater(hyps[0].score, hyps[1].score)
            self.assertGreater(real, 100)


class ModelTest(unittest.TestCase):
    def test_rotary_is_hf_rotate_half(self):
        x = torch.tensor([1.0, 2.0, 3.0, 4.0])
        self.assertTrue(torch.equal(rotate_half(x), torch.tensor([-3.0, -4.0, 1.0, 2.0])))
        m = _tiny(50)
        cos, sin = m.rotary(torch.tensor([3]))
        # Pair (i, i + d/2) turns by position * theta^(-2i/d).
        d = m.config.head_dim
        ang = 3 * 10000.0 ** (-torch.arange(0, d, 2).float() / d)
        self.assertTrue(torch.allclose(cos[0, : d // 2], ang.cos()))
        self.assertTrue(torch.allclose(sin[0, d // 2:], ang.sin()))

    def test_causal(self):
        m = _tiny(50).eval()
        a = torch.tensor([[5, 6, 7, 8]])
        b = torch.tensor([[5, 6, 7, 9]])
        with torch.no_grad():
            self.assertTrue(torch.allclose(m(a)[0, :3], m(b)[0, :3], atol=1e-6))

    def test_batch_greedy_matches_single(self):
        m = _tiny(50).eval()
        prompts = [[1, 5, 9, 11], [1, 7], [1, 3, 3, 3, 3, 4]]
        batch = m.greedy_batch(prompts, 6, eos_id=2)
        for p, out in zip(prompts, batch):
            single = m.greedy(p, 6, eos_id=2)
            self.assertEqual(out, [t for t in single if t != 2])

    def test_loss_falls(self):
        tok = _Shared.get()
        model = _tiny(len(tok))
        rng = random.Random(0)
        from train.slt.data import Turn
        turns = []
        for _ in range(64):
            ws = [rng.choice(_WORDS) for _ in range(3)]
            turns.append(Turn("k", " ".join(w.upper() for w in ws), " ".join(ws) + " .", []))
        batches = make_batches(turns, tok, ["X"], Augment(p_single=1.0, p_noisy_top=0.0), rng, 16, 128)
        x, y = collate(batches[0], 0, "cpu")
        before = float(loss_fn(model, x, y))
        lines = []
        res = train(model, tok, turns, [], ["X"], Augment(p_single=1.0, p_noisy_top=0.0),
                    Optim(steps=40, batch_size=16, lr=1e-2, warmup=5, log_every=10), Dist(), lines.append)
        model.eval()
        after = float(loss_fn(model, x, y))
        self.assertLess(after, before - 1.0, f"loss {before:.3f} -> {after:.3f}")
        self.assertEqual(res["steps"], 40)
        self.assertTrue(any("tokens/s" in l and "loss" in l for l in lines), lines)

    def test_weight_ema(self):
        p = torch.nn.Parameter(torch.zeros(3))
        ema = WeightEMA([p], decay=0.5)
        seen = []
        for v in (1.0, 2.0, 3.0):
            with torch.no_grad():
                p.fill_(v)
            ema.update()
            seen.append(v)
        # decays min(0.5, (1+n)/(10+n)) = 0.1818, 0.25, 0.3077 for n = 1, 2, 3
        want = 0.0
        for n, v in enumerate(seen, 1):
            d = min(0.5, (1 + n) / (10 + n))
            want = d * want + (1 - d) * v
        ema.swap()
        self.assertTrue(torch.allclose(p.detach(), torch.full((3,), want)), (p, want))
        ema.swap()
        self.assertTrue(torch.equal(p.detach(), torch.full((3,), 3.0)))

    def test_train_leaves_average_with_label_smoothing(self):
        tok = _Shared.get()
        model = _tiny(len(tok))
        from train.slt.data import Turn
        turns = [Turn("k", "MORGEN REGEN", "morgen regen .", [])] * 16
        live = {}

        def spy(msg):   # the last progress line comes after the last optimiser step
            live["w"] = model.lm_head.weight.detach().clone()
        res = train(model, tok, turns, [], ["X"], Augment(p_single=1.0, p_noisy_top=0.0),
                    Optim(steps=5, batch_size=8, lr=1e-2, warmup=1, log_every=5, ema=0.9,
                          label_smoothing=0.1), Dist(), spy)
        self.assertEqual(res["steps"], 5)
        # the exported weights are the average, not the live weights of the last step
        self.assertFalse(torch.equal(model.lm_head.weight.detach(), live["w"]))


class RecipeTest(unittest.TestCase):
    """The options of the Phoenix recipe: tied embeddings, BPE-dropout, checkpoint candidates,
    and the fp16 transport of a model folder."""

    def test_bpe_dropout_zero_is_the_runtime_segmentation(self):
        tok = _Shared.get()
        p = build_prompt(["morgen regen ."], [Hypothesis("MORGEN REGEN", 1.0)])
        ids, n = encode_example(tok, p, "morgen  sonne wolken .")
        self.assertEqual(ids[n:-1], tok.encode_sampled("morgen  sonne wolken .", 0.0))
        random.seed(3)
        sampled = {tuple(tok.encode_sampled("morgen sonne wolken gewitter .", 0.5)) for _ in range(30)}
        self.assertGreater(len(sampled), 1, "BPE-dropout never changed the segmentation")
        for ids in sampled:
            self.assertEqual(tok.decode(list(ids)).strip(), "morgen sonne wolken gewitter .")

    def test_tied_model_exports_as_an_ordinary_untied_one(self):
        tok = _Shared.get()
        torch.manual_seed(0)
        m = LlamaForCausalLM(LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64,
                                         num_hidden_layers=1, num_attention_heads=4, num_key_value_heads=2,
                                         max_position_embeddings=64, tie_embeddings=True))
        self.assertIs(m.lm_head.weight, m.model.embed_tokens.weight)
        with tempfile.TemporaryDirectory() as d:
            export_model(m, tok, d)
            cfg = _json(os.path.join(d, "config.json"))
            self.assertFalse(cfg["tie_word_embeddings"])
            back, _ = load_model(d)
            self.assertIsNot(back.lm_head.weight, back.model.embed_tokens.weight)
            self.assertTrue(torch.equal(back.lm_head.weight, back.model.embed_tokens.weight))
            x = torch.tensor([[1, 5, 7, 9]])
            self.assertTrue(torch.allclose(back.eval()(x), m.eval()(x).detach(), atol=1e-2))

    def test_candidates_and_average(self):
        tok = _Shared.get()
        model = _tiny(len(tok))
        from train.slt.data import Turn
        from train.slt.trainer import load_params
        turns = [Turn("k", "MORGEN REGEN", "morgen regen .", [])] * 16
        res = train(model, tok, turns, [], ["X"], Augment(p_single=1.0, p_noisy_top=0.0),
                    Optim(steps=6, batch_size=8, lr=1e-2, warmup=1, log_every=6, ema=0.9,
                          avg_last=3, avg_every=2), Dist(), lambda m: None)
        c = res["candidates"]
        self.assertEqual(sorted(c), ["avg3", "ema", "last"])
        params = [p for p in model.parameters() if p.requires_grad]
        # train() leaves the moving average in the model
        for p, e in zip(params, c["ema"]):
            self.assertTrue(torch.equal(p.detach(), e))
        load_params(model, c["avg3"])
        self.assertFalse(torch.equal(params[0].detach(), c["last"][0]))
        with self.assertRaises(ValueError):
            load_params(model, c["avg3"][:-1])

    def test_pack_unpack_round_trip(self):
        from train.slt.sweep import pack, unpack
        tok = _Shared.get()
        m = _tiny(len(tok))
        with tempfile.TemporaryDirectory() as d:
            src, parts, dst = (os.path.join(d, n) for n in ("src", "parts", "dst"))
            export_model(m, tok, src)
            paths = pack(src, parts, part_mb=0.02)
            self.assertGreater(len(paths), 1)
            unpack(parts, dst)
            self.assertEqual(sorted(os.listdir(src)), sorted(os.listdir(dst)))
            a, _ = safetensors.load_file(os.path.join(src, "model.safetensors"))
            b, _ = safetensors.load_file(os.path.join(dst, "model.safetensors"))
            self.assertEqual(sorted(a), sorted(b))
            for k in a:
                self.assertEqual(b[k].dtype, torch.float32)
                self.assertTrue(torch.equal(a[k], b[k]), k)


class LoraTest(unittest.TestCase):
    def _with_lora(self, targets=("q_proj", "k_proj", "v_proj", "o_proj")):
        tok = _Shared.get()
        m = _tiny(len(tok))
        cfg = LoraConfig(r=4, alpha=8, target_modules=list(targets))
        wrapped = m.add_lora(cfg)
        torch.manual_seed(5)
        with torch.no_grad():
            for mod in m.modules():
                if isinstance(mod, LoRALinear):
                    mod.lora_B.weight.normal_(0, 0.2)
        return tok, m, cfg, wrapped

    def test_merged_equals_base_plus_scaled_update(self):
        tok, m, cfg, wrapped = self._with_lora()
        self.assertEqual(len(wrapped), 2 * 4)
        self.assertEqual([n for n, p in m.named_parameters() if p.requires_grad and "lora_" not in n], [])
        merged = m.merged_state_dict()
        q = m.model.layers[1].self_attn.q_proj
        want = q.weight + 2.0 * q.lora_B.weight @ q.lora_A.weight
        self.assertTrue(torch.allclose(merged["model.layers.1.self_attn.q_proj.weight"], want))
        fresh = _tiny(len(tok)).eval()
        fresh.load_state_dict(merged)
        m.eval()
        x = torch.tensor([[1, 20, 30, 40, 50]])
        with torch.no_grad():
            self.assertTrue(torch.allclose(fresh(x), m(x), atol=1e-5))
            self.assertGreater(float((fresh(x) - _tiny(len(tok)).eval()(x)).abs().max()), 1e-3)

    def test_peft_export_round_trip(self):
        tok, m, cfg, _ = self._with_lora(("q_proj", "v_proj"))
        with tempfile.TemporaryDirectory() as d:
            export_adapter(m, cfg, d, base_model="base")
            conf = _json(os.path.join(d, "adapter_config.json"))
            sd, _ = safetensors.load_file(os.path.join(d, "adapter_model.safetensors"))
            other = _tiny(len(tok))
            load_adapter(other, d)
        self.assertIsInstance(conf["lora_alpha"], int)
        self.assertEqual((conf["r"], conf["lora_alpha"], conf["peft_type"]), (4, 8, "LORA"))
        self.assertEqual(conf["target_modules"], ["q_proj", "v_proj"])
        a = sd[PEFT_PREFIX + "model.layers.0.self_attn.q_proj.lora_A.weight"]
        b = sd[PEFT_PREFIX + "model.layers.0.self_attn.q_proj.lora_B.weight"]
        self.assertEqual((list(a.shape), list(b.shape)), ([4, 32], [32, 4]))
        self.assertEqual(len(sd), 2 * 2 * 2)
        x = torch.tensor([[1, 20, 30]])
        m.eval(), other.eval()
        with torch.no_grad():
            self.assertTrue(torch.allclose(m(x), other(x), atol=1e-3))

    def test_unknown_target_is_an_error(self):
        with self.assertRaisesRegex(ValueError, "match no projection"):
            _tiny(50).add_lora(LoraConfig(target_modules=["qkv"]))


class ExportTinyTest(unittest.TestCase):
    def test_reference_outputs(self):
        from train.slt.export_tiny import TinyConfig, export_tiny
        with tempfile.TemporaryDirectory() as d:
            ref = export_tiny(TinyConfig(out=d, seed=1))
            sd, _ = safetensors.load_file(os.path.join(d, "adapter", "adapter_model.safetensors"))
            for sub in ("model", "merged", "adapter"):
                self.assertTrue(os.listdir(os.path.join(d, sub)))
        bs = [v for k, v in sd.items() if k.endswith("lora_B.weight")]
        self.assertEqual(len(bs), 3 * 2)
        self.assertTrue(all(float(b.abs().max()) > 0 for b in bs))
        self.assertEqual(ref["prompt_ids"][0], ref["bos_id"])
        self.assertEqual(len(ref["base"]["logits"]), len(ref["prompt_ids"]))
        self.assertEqual(len(ref["base"]["logits"][0]), ref["vocab_size"])
        self.assertNotEqual(ref["base"]["greedy"], ref["merged"]["greedy"])


class BleuTest(unittest.TestCase):
    def test_bleu(self):
        self.assertAlmostEqual(corpus_bleu(["a b c d"], ["a b c d"])[3], 100.0)
        self.assertEqual(corpus_bleu(["x y z w"], ["a b c d"])[3], 0.0)
        b = corpus_bleu(["a b c d e"], ["a b c d f"])
        self.assertAlmostEqual(b[0], 80.0)


if __name__ == "__main__":
    unittest.main()


class EvalsetTest(unittest.TestCase):
    def test_items_and_score(self):
        from train.slt import evalset
        with tempfile.TemporaryDirectory() as d:
            p = lambda n: os.path.join(d, n)
            _write(p("train.ids"), "01May_2010_Sat_tagesschau-1\n")
            _write(p("train.de"), "eins .\n")
            _write(p("dev.ids"), "01May_2010_Sat_tagesschau-2\n")
            _write(p("dev.de"), "zwei .\n")
            _write(p("dev.gloss"), "ZWEI\n")
            _write(p("dev.stmc.gloss"), "ZWEI  DREI\n")
            self.assertEqual(evalset.main(["items", "--phoenix", d, "--split", "dev", "--glosses",
                                           p("dev.stmc.gloss"), "--context", "1", "--out", p("items.jsonl")]), 0)
            items = [json.loads(l) for l in _bytes(p("items.jsonl")).decode().splitlines()]
            self.assertEqual(items, [{"context": ["eins ."], "hyps": [{"glosses": "ZWEI DREI", "score": 1.0}]}])
            self.assertEqual(evalset.main(["items", "--phoenix", d, "--split", "test", "--out", p("x")]), 2)
