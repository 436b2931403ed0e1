package main

import "context"

// evalSubcommands lists `scope eval` verbs; each lives in cmd/scope/eval_<name>.go.
func evalSubcommands() []subcommand {
	return []subcommand{
		{"slr", "recogniser WER (substitutions, deletions, insertions; ambiguous vs other tokens) on a dataset", evalSLR},
		{"slt", "translator BLEU-1..4, ROUGE-L, chrF on a split given by path, with or without dialogue context", evalSLT},
		{"interpret", "end to end: recognise, translate, gate; shown/unsure per sentence, correct, hallucinated, degenerate, risk-coverage", evalInterpret},
	}
}

func cmdEval(ctx context.Context, a *app, args []string) error {
	return dispatch(ctx, a, "eval", "Score a model on a dataset given by path (WER for the recogniser; BLEU, ROUGE-L, chrF for the translator).", evalSubcommands(), args)
}
