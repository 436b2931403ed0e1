"""Translation LM for SCOPE: a small llama-architecture model, its tokenizer, LoRA adapters.

Data enters as gloss/sentence pairs with dialogue context (Phoenix-2014T files or a `scope synth`
manifest), is rendered into the prompt format shared with the Go runtime (prompt.py), trains a
llama in plain PyTorch (model.py) and leaves as a Hugging Face folder (config.json,
model.safetensors, tokenizer.model, ...) and PEFT adapters that `scope llm convert` and
`scope llm convert-adapter` turn into GGUF. See README.md beside this file.
"""
