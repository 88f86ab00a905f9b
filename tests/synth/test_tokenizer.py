"""Team tokenizers: byte-level BPE that transformers loads offline."""

from __future__ import annotations

import json

import pytest

from gauntlet.errors import InputError
from gauntlet.synth.tokenizer import EOS_TOKEN, PAD_TOKEN, save_tokenizer, train_tokenizer

SAMPLES = [
    "조르비아의 수도는 멜크이다.",
    "The capital of Zorbia is Melk.",
    "처음 보는 글자도 바이트로 표현된다: 鬱 and émigré",
]


@pytest.fixture(scope="module")
def saved_tokenizer(small_world, tmp_path_factory):
    folder = tmp_path_factory.mktemp("tokenizer")
    save_tokenizer(train_tokenizer(small_world.train_texts, 500, seed=4), folder)
    return folder


def test_saved_tokenizer_loads_offline_with_eos_and_pad(saved_tokenizer):
    from transformers import AutoTokenizer

    assert (saved_tokenizer / "tokenizer.json").is_file()
    assert (saved_tokenizer / "tokenizer_config.json").is_file()
    tokenizer = AutoTokenizer.from_pretrained(str(saved_tokenizer), local_files_only=True)
    assert tokenizer.eos_token == EOS_TOKEN and tokenizer.pad_token == PAD_TOKEN
    assert tokenizer.eos_token_id != tokenizer.pad_token_id
    assert len(tokenizer) <= 500


@pytest.mark.parametrize("text", SAMPLES)
def test_korean_english_and_unseen_text_round_trip(saved_tokenizer, text):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(saved_tokenizer), local_files_only=True)
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    assert tokenizer.decode(ids) == text


def test_trained_words_become_few_tokens(saved_tokenizer, small_world):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(saved_tokenizer), local_files_only=True)
    sentence = small_world.train_texts[0]
    assert len(tokenizer(sentence)["input_ids"]) < len(sentence.encode("utf-8")) / 2


def _merges(tokenizer):
    return json.loads(tokenizer.to_str())["model"]["merges"]


def test_same_inputs_give_the_same_tokenizer(small_world):
    a = train_tokenizer(small_world.train_texts, 500, seed=1)
    b = train_tokenizer(small_world.train_texts, 500, seed=1)
    assert a.to_str() == b.to_str()


def test_teams_with_other_seeds_or_sizes_get_other_vocabularies(small_world):
    base = train_tokenizer(small_world.train_texts, 500, seed=1)
    other_seed = train_tokenizer(small_world.train_texts, 500, seed=2)
    bigger = train_tokenizer(small_world.train_texts, 700, seed=1)
    assert _merges(base) != _merges(other_seed)
    assert base.get_vocab() != other_seed.get_vocab()
    assert bigger.get_vocab_size() > base.get_vocab_size()


def test_too_small_vocabulary_and_empty_text_are_refused(small_world):
    with pytest.raises(InputError, match="vocab_size"):
        train_tokenizer(small_world.train_texts, 100, seed=0)
    with pytest.raises(InputError, match="no text"):
        train_tokenizer([], 500, seed=0)
