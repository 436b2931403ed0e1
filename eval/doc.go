// Package eval computes the scores sign language recognition and translation papers report,
// computed the way the field computes them, so SCOPE's numbers can be set beside published
// ones:
//
//   - WER for gloss recognition: Levenshtein alignment of tokens with the NIST sclite
//     weights the Phoenix-2014T evaluation and the sign language translation code base use
//     (substitution 4, insertion 3, deletion 3), split into substitutions, deletions and
//     insertions. Align returns the alignment itself, so callers can split errors by token
//     class.
//   - BLEU as sacreBLEU 2.x computes corpus BLEU (13a tokenisation, brevity penalty, "exp"
//     smoothing, n-grams up to 4), and BLEU-1..4 as the papers list them: cumulative BLEU
//     with uniform weights over the orders 1..n (sacreBLEU with max_ngram_order=n).
//     SignJoeyBLEU selects the settings of the sign language translation code base (no
//     tokenisation, floor smoothing with 0).
//   - chrF as sacreBLEU computes it (character n-grams up to 6, no word n-grams, beta 2,
//     whitespace removed).
//   - ROUGE-L as the sign language translation code base computes it: per sentence the F
//     measure of the longest common token subsequence with beta 1.2, averaged over sentences.
//
// Every score is on sacreBLEU's 0-100 scale. Inputs are plain strings (sentences) or token
// lists; mismatched inputs return an error.
package eval
