package eval

import (
	"regexp"
	"strings"
	"unicode"
)

// Tokenizer names how BLEU splits sentences into tokens.
type Tokenizer int

const (
	// Tok13a is sacreBLEU's default, mteval-v13a's tokenisation used by WMT.
	Tok13a Tokenizer = iota
	// TokNone splits at whitespace only (sacreBLEU's "none"), for text that is already
	// tokenised, as Phoenix-2014T's German is.
	TokNone
)

func (t Tokenizer) String() string {
	switch t {
	case Tok13a:
		return "13a"
	case TokNone:
		return "none"
	}
	return "unknown"
}

// pyIsSpace is Python's str.isspace, which str.split() and str.rstrip() use: Unicode
// White_Space plus the ASCII separators U+001C..U+001F.
func pyIsSpace(r rune) bool {
	return unicode.IsSpace(r) || (r >= 0x1c && r <= 0x1f)
}

// pyFields is Python's str.split() without arguments.
func pyFields(s string) []string { return strings.FieldsFunc(s, pyIsSpace) }

// The rules of mteval-v13a as sacreBLEU applies them, one after the other, each over the
// whole line (leftmost, non-overlapping matches, as Python's re.sub).
var rules13a = []struct {
	re   *regexp.Regexp
	repl string
}{
	// Punctuation and symbols in these ASCII ranges become tokens: {|}~ [\]^_` space!"#$%&
	// ()*+ :;<=>?@ and /. Hyphen, period, comma and apostrophe are not among them.
	{regexp.MustCompile("([{-~\\[-` -&(-+:-@/])"), " ${1} "},
	// Period and comma are split off unless they sit between digits.
	{regexp.MustCompile(`([^0-9])([.,])`), "${1} ${2} "},
	{regexp.MustCompile(`([.,])([^0-9])`), " ${1} ${2}"},
	// A dash after a digit is split off.
	{regexp.MustCompile(`([0-9])(-)`), "${1} ${2} "},
}

// Tokenize13a tokenises a line as sacreBLEU's "13a" tokenizer does and returns the tokens
// joined by single spaces.
func Tokenize13a(line string) string {
	line = strings.ReplaceAll(line, "<skipped>", "")
	line = strings.ReplaceAll(line, "-\n", "")
	line = strings.ReplaceAll(line, "\n", " ")
	if strings.Contains(line, "&") {
		// sacreBLEU replaces the entities one kind after another; "&amp;lt;" shows the order.
		line = strings.ReplaceAll(line, "&quot;", `"`)
		line = strings.ReplaceAll(line, "&amp;", "&")
		line = strings.ReplaceAll(line, "&lt;", "<")
		line = strings.ReplaceAll(line, "&gt;", ">")
	}
	line = " " + line + " "
	for _, r := range rules13a {
		line = r.re.ReplaceAllString(line, r.repl)
	}
	return strings.Join(pyFields(line), " ")
}

// tokenize applies t and splits the result into tokens.
func (t Tokenizer) tokenize(line string) []string {
	if t == Tok13a {
		line = Tokenize13a(line)
	}
	return pyFields(line)
}
