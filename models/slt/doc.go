// Package slt is SCOPE's translator: it turns the recogniser's top gloss hypotheses, with the
// dialogue so far as context, into a spoken-language sentence with a llama.cpp model.
//
// Data enters as []Hypothesis (gloss strings with scores, best first) and the context turns
// (plain text, oldest first); it leaves as text pieces streamed to a callback while the model
// writes, then a Result with the whole sentence and its timings. Embed turns a text into one
// vector (mean of the model's per-token final hidden states) for context features.
//
// A Translator owns one model, one llama.cpp context and the LoRA adapters loaded for it (one
// per domain: reception, pharmacy, ...). Adapters are loaded once; SetDomain switches the
// active one per translation with a scale. Close frees everything.
//
// Prompts: models trained by train/slt read a plain format (see Prompt), shared with
// train/slt/prompt.py. Any other llama.cpp model that carries a chat template (an instruct
// model a user brings) is prompted through that template with an instruction, the context and
// the hypotheses. The context is bounded: when the prompt and the longest answer would not fit
// the KV cache, the oldest turns are dropped first.
//
// A Translator is safe for use by several goroutines; translations run one at a time.
package slt
