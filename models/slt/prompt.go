package slt

import (
	"fmt"
	"strings"
)

// Hypothesis is one gloss sequence the recogniser proposes, with its score in [0, 1].
type Hypothesis struct {
	Glosses string  // space-separated glosses
	Score   float64 // recogniser confidence; 1 when there is only one hypothesis
}

// MaxHypotheses is how many hypotheses a prompt carries (the best ones).
const MaxHypotheses = 3

// clean collapses whitespace: the prompt format's rule for every text field.
func clean(s string) string { return strings.Join(strings.Fields(s), " ") }

// PlainPrompt builds the prompt that models trained by train/slt read:
//
//	ctx: <oldest context turn>
//	ctx: <newest context turn>
//	gloss 0.91: GLOSS GLOSS
//	gloss 0.06: GLOSS
//	text:
//
// Lines are joined with "\n"; the model continues with " <sentence>" and EOS.
func PlainPrompt(context []string, hyps []Hypothesis) (string, error) {
	if len(hyps) == 0 {
		return "", fmt.Errorf("prompt: no gloss hypothesis")
	}
	var lines []string
	for _, c := range context {
		if c = clean(c); c != "" {
			lines = append(lines, "ctx: "+c)
		}
	}
	for _, h := range hyps[:min(len(hyps), MaxHypotheses)] {
		lines = append(lines, fmt.Sprintf("gloss %.2f: %s", max(0, min(1, h.Score)), clean(h.Glosses)))
	}
	lines = append(lines, "text:")
	return strings.Join(lines, "\n"), nil
}

// DefaultInstruction is the system message for chat models.
const DefaultInstruction = "You translate German Sign Language (DGS) glosses into one fluent German sentence. " +
	"The glosses come from a recogniser that may be wrong: you get up to three hypotheses, best first, " +
	"with their confidence. Use the earlier turns of the conversation to resolve ambiguity. " +
	"Reply with the German sentence only."

// ChatUserMessage is the user message for chat models: the context and the hypotheses.
func ChatUserMessage(context []string, hyps []Hypothesis) (string, error) {
	if len(hyps) == 0 {
		return "", fmt.Errorf("prompt: no gloss hypothesis")
	}
	var b strings.Builder
	var ctx []string
	for _, c := range context {
		if c = clean(c); c != "" {
			ctx = append(ctx, c)
		}
	}
	if len(ctx) > 0 {
		b.WriteString("Conversation so far (oldest first):\n")
		for _, c := range ctx {
			b.WriteString("- " + c + "\n")
		}
	}
	b.WriteString("Gloss hypotheses (best first, confidence):\n")
	for i, h := range hyps[:min(len(hyps), MaxHypotheses)] {
		fmt.Fprintf(&b, "%d. %s (%.2f)\n", i+1, clean(h.Glosses), max(0, min(1, h.Score)))
	}
	b.WriteString("German sentence:")
	return b.String(), nil
}
