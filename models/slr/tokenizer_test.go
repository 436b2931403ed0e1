package slr

import (
	"reflect"
	"testing"

	"scope/models/bundle"
)

func TestWords(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []string
	}{
		{"Hello, WORLD!", []string{"hello", "world"}},
		{"Ünïcode 42x_y", []string{"ünïcode", "42x", "y"}},
		{"  ", nil},
		{"don't", []string{"don", "t"}},
	} {
		if got := Words(c.in); !reflect.DeepEqual(got, c.want) {
			t.Errorf("Words(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestTokenizerKeepsTheMostRecentTurns(t *testing.T) {
	tk, err := NewTokenizer(&bundle.Tokenizer{Type: "words-v1", Specials: []string{"<pad>", "<unk>", "<bos>", "<sep>"}, MaxLen: 5, Vocab: []string{"hello", "world"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := tk.Encode(nil); !reflect.DeepEqual(got, []int64{2}) {
		t.Errorf("no turns: %v", got)
	}
	if got := tk.Encode([]string{"hello there", "world"}); !reflect.DeepEqual(got, []int64{2, 1, 3, 5, 3}) {
		t.Errorf("two turns: %v, want [2 1 3 5 3]", got)
	}
	if _, err := NewTokenizer(&bundle.Tokenizer{Type: "bpe"}); err == nil {
		t.Error("unknown tokenizer type accepted")
	}
}
