package slt

import (
	"context"
	"testing"
)

// BenchmarkTranslate measures one whole translation (prompt with context and three
// hypotheses, up to 16 tokens) of the tiny random model on one thread.
func BenchmarkTranslate(b *testing.B) {
	tr, err := Open(Config{Model: tiny(b).plain, MaxTokens: 16, Context: 512})
	if err != nil {
		b.Fatal(err)
	}
	defer tr.Close()
	ctx := context.Background()
	turns := []string{"guten tag", "ich brauche etwas gegen kopfschmerzen"}
	var toks int
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res, err := tr.Translate(ctx, turns, hyps, nil)
		if err != nil {
			b.Fatal(err)
		}
		toks += res.Tokens
	}
	b.ReportMetric(float64(toks)/b.Elapsed().Seconds(), "tokens/s")
}

// BenchmarkEmbed measures mean-pooled embedding of one context turn.
func BenchmarkEmbed(b *testing.B) {
	tr, err := Open(Config{Model: tiny(b).plain, Context: 512})
	if err != nil {
		b.Fatal(err)
	}
	defer tr.Close()
	for i := 0; i < b.N; i++ {
		if _, err := tr.Embed(context.Background(), "ich brauche etwas gegen kopfschmerzen"); err != nil {
			b.Fatal(err)
		}
	}
}
