package convert

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"scope/models/slt/gguf"
	"scope/models/slt/safetensors"
	"scope/models/slt/tinyllama"
)

// AdapterConfig is what we read of a PEFT adapter_config.json.
type AdapterConfig struct {
	Rank          int      `json:"r"`
	Alpha         float64  `json:"lora_alpha"`
	TargetModules []string `json:"target_modules"`
	UseRSLoRA     bool     `json:"use_rslora"`
	UseDoRA       bool     `json:"use_dora"`
}

// Adapter converts the PEFT LoRA adapter in dir (adapter_config.json,
// adapter_model.safetensors) for the llama-architecture GGUF base into a GGUF adapter at out.
//
// llama.cpp's llama weights have the rows of q and k reordered for its rotary layout (pairs
// interleaved instead of the halves that Hugging Face's rotate_half uses). A LoRA update
// B·A of such a weight must be reordered the same way, and the row index of B·A is the row
// of B: so lora_B of q_proj/k_proj is permuted (by the query or key/value head count) and
// lora_A stays as it is.
func Adapter(dir, base, out string) error {
	cfgPath := filepath.Join(dir, "adapter_config.json")
	b, err := os.ReadFile(cfgPath)
	if err != nil {
		return fmt.Errorf("%s is not a PEFT adapter folder: %w", dir, err)
	}
	var cfg AdapterConfig
	if err := json.Unmarshal(b, &cfg); err != nil {
		return fmt.Errorf("%s: %w", cfgPath, err)
	}
	if cfg.Rank <= 0 || cfg.Alpha <= 0 {
		return fmt.Errorf("%s: r and lora_alpha must be positive (got %d and %g)", cfgPath, cfg.Rank, cfg.Alpha)
	}
	if cfg.UseRSLoRA || cfg.UseDoRA {
		return fmt.Errorf("%s: rsLoRA and DoRA adapters are not supported by llama.cpp's LoRA path; train a plain LoRA", cfgPath)
	}
	bf, err := gguf.Open(base)
	if err != nil {
		return err
	}
	if arch := bf.String("general.architecture"); arch != "llama" {
		return fmt.Errorf("%s: base architecture %q; adapters are converted for llama models only", base, arch)
	}
	heads, ok1 := bf.Uint("llama.attention.head_count")
	kvHeads, ok2 := bf.Uint("llama.attention.head_count_kv")
	if !ok1 {
		return fmt.Errorf("%s: no llama.attention.head_count", base)
	}
	if !ok2 {
		kvHeads = heads
	}
	stPath := filepath.Join(dir, "adapter_model.safetensors")
	tensors, err := safetensors.ReadFile(stPath)
	if err != nil {
		return err
	}
	type pair struct{ a, b *safetensors.Tensor }
	pairs := map[string]*pair{}
	var order []string
	for i := range tensors {
		t := &tensors[i]
		name := strings.TrimPrefix(t.Name, "base_model.model.")
		var which string
		switch {
		case strings.HasSuffix(name, ".lora_A.weight"):
			which, name = "a", strings.TrimSuffix(name, ".lora_A.weight")+".weight"
		case strings.HasSuffix(name, ".lora_B.weight"):
			which, name = "b", strings.TrimSuffix(name, ".lora_B.weight")+".weight"
		default:
			return fmt.Errorf("%s: tensor %q is not a LoRA factor (want *.lora_A.weight / *.lora_B.weight)", stPath, t.Name)
		}
		p := pairs[name]
		if p == nil {
			p = &pair{}
			pairs[name] = p
			order = append(order, name)
		}
		if which == "a" {
			p.a = t
		} else {
			p.b = t
		}
	}
	var out_ []gguf.Tensor
	for _, name := range order {
		p := pairs[name]
		if p.a == nil || p.b == nil {
			return fmt.Errorf("%s: %s has only one of lora_A and lora_B", stPath, name)
		}
		gname, ok := tinyllama.GGUFName(name)
		if !ok {
			return fmt.Errorf("%s: no llama.cpp tensor for %s", stPath, name)
		}
		bt, ok := bf.Tensor(gname)
		if !ok {
			return fmt.Errorf("%s: base %s has no tensor %s", stPath, base, gname)
		}
		if len(p.a.Shape) != 2 || len(p.b.Shape) != 2 || p.a.Shape[0] != p.b.Shape[1] {
			return fmt.Errorf("%s: %s: lora_A %v and lora_B %v do not form a rank-r pair", stPath, name, p.a.Shape, p.b.Shape)
		}
		in, outDim := int(bt.Shape[0]), int(bt.Shape[1])
		if p.a.Shape[1] != in || p.b.Shape[0] != outDim {
			return fmt.Errorf("%s: %s: lora_A %v / lora_B %v do not fit the base weight (%d in, %d out); wrong base model?", stPath, name, p.a.Shape, p.b.Shape, in, outDim)
		}
		bdata := p.b.Data
		switch {
		case strings.HasSuffix(name, "q_proj.weight"):
			bdata = tinyllama.PermuteRows(bdata, int(heads), p.b.Shape[0], p.b.Shape[1])
		case strings.HasSuffix(name, "k_proj.weight"):
			bdata = tinyllama.PermuteRows(bdata, int(kvHeads), p.b.Shape[0], p.b.Shape[1])
		}
		r := uint64(p.a.Shape[0])
		out_ = append(out_,
			gguf.Tensor{Name: gname + ".lora_a", Shape: []uint64{uint64(in), r}, Type: gguf.F32, Data: tinyllama.Encode(p.a.Data, gguf.F32)},
			gguf.Tensor{Name: gname + ".lora_b", Shape: []uint64{r, uint64(outDim)}, Type: gguf.F32, Data: tinyllama.Encode(bdata, gguf.F32)},
		)
	}
	if len(out_) == 0 {
		return fmt.Errorf("%s: no LoRA tensors", stPath)
	}
	kv := []gguf.KV{
		{Key: "general.type", Value: "adapter"},
		{Key: "general.architecture", Value: "llama"},
		{Key: "general.name", Value: filepath.Base(filepath.Clean(dir))},
		{Key: "adapter.type", Value: "lora"},
		{Key: "adapter.lora.alpha", Value: float32(cfg.Alpha)},
		{Key: "adapter.lora.rank", Value: uint32(cfg.Rank)},
		{Key: "adapter.peft.target_modules", Value: strconv.Quote(strings.Join(cfg.TargetModules, ","))},
	}
	tmp, err := writeTemp(out, "adapter", kv, out_)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	return finish(tmp, out)
}
