"""Reference token ids of the bundled evaluation sentences (Examples/eval/sentences.txt), encoded by the
Hugging Face `tokenizers` library with the tiny BERT fixture's tokenizer.json: what `weightlab eval --data
sentences.txt` must feed an encoder (padded to the longest, at most 128 tokens, # lines skipped).

    python3 Tests/Fixtures/make_sentence_tokens.py   # needs tokenizers (Tests/Fixtures/requirements.txt)
"""
import json
import os

from tokenizers import Tokenizer

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.dirname(os.path.dirname(here))
with open(os.path.join(root, "Examples", "eval", "sentences.txt"), encoding="utf-8") as f:
    sentences = [line.strip() for line in f if line.strip() and not line.strip().startswith("#")]
tok = Tokenizer.from_file(os.path.join(here, "evalnet", "tiny_bert", "tokenizer.json"))
tok.enable_truncation(max_length=128)
tok.enable_padding(pad_id=tok.token_to_id("[PAD]"), pad_token="[PAD]")
enc = tok.encode_batch(sentences)
out = {"count": len(sentences), "ids": [e.ids for e in enc], "mask": [e.attention_mask for e in enc]}
with open(os.path.join(here, "taskeval", "sentence_tokens.json"), "w") as f:
    json.dump(out, f, separators=(",", ":"))
print(len(sentences), "sentences,", len(enc[0].ids), "tokens each")
