#!/usr/bin/env bash
# Generates the Kotlin or Swift bindings of ibkey-ffi from a built library, with the
# workspace's own uniffi-bindgen (so its version always matches the library's).
#
#   uniffi/generate-bindings.sh kotlin|swift OUT_DIR [LIBRARY]
#
# LIBRARY defaults to $CARGO_TARGET_DIR (else target/)/release/libibkey_ffi.{so,dylib}: build
# it first with `cargo build -p ibkey-ffi --release`. Bindings need uniffi's metadata symbols,
# so never generate from the stripped `mobile` profile build; that one is what apps ship.
#
# Kotlin output: OUT_DIR/io/ibkey/core/ibkey.kt (needs JNA 5 and kotlinx-coroutines).
# Swift output:  OUT_DIR/IbKeyCore.swift, IbKeyCoreFFI.h, IbKeyCoreFFI.modulemap.
#
# One step follows uniffi's output, so that an error's platform message is the core's human
# message (uniffi 0.32 does not do it by itself):
# - Kotlin: each error variant's `message` (uniffi writes "field=value, ...") becomes the
#   error's Rust `Display` text, which uniffi already exports as `toString()`.
# - Swift: each error enum with a Rust `Display` (`description`) is declared
#   `CustomStringConvertible`, so `localizedDescription` is that text.
# Both steps check that they found what they expect and fail otherwise.
set -euo pipefail

usage() {
    echo "usage: $0 kotlin|swift OUT_DIR [LIBRARY]" >&2
    exit 2
}
[ $# -ge 2 ] || usage
language=$1
out_dir=$2
root=$(cd "$(dirname "$0")/.." && pwd)
target_dir=${CARGO_TARGET_DIR:-$root/target}
case "$(uname -s)" in
    Darwin) lib_ext=dylib ;;
    *) lib_ext=so ;;
esac
library=${3:-$target_dir/release/libibkey_ffi.$lib_ext}
case "$language" in kotlin | swift) ;; *) usage ;; esac
if [ ! -f "$library" ]; then
    echo "error: no library at $library; build it with: cargo build -p ibkey-ffi --release" >&2
    exit 1
fi

cd "$root"
cargo build --quiet -p ibkey-ffi --features cli --bin uniffi-bindgen
rm -rf "$out_dir"
mkdir -p "$out_dir"
"$target_dir/debug/uniffi-bindgen" generate --no-format \
    --library "$library" --language "$language" --out-dir "$out_dir"

case "$language" in
kotlin)
    kt="$out_dir/io/ibkey/core/ibkey.kt"
    [ -f "$kt" ] || { echo "error: uniffi-bindgen wrote no $kt" >&2; exit 1; }
    # Every error class must have the Rust Display as toString() before its message can use it.
    errors=$(grep -cE '^sealed class [A-Za-z]+Exception: kotlin\.Exception\(\)' "$kt" || true)
    displays=$(grep -c '_uniffi_trait_display(FfiConverterType[A-Za-z]*Error\.lower(this)' "$kt" || true)
    if [ "$errors" -eq 0 ] || [ "$errors" -ne "$displays" ]; then
        echo "error: $errors error classes but $displays Display exports in $kt" >&2
        exit 1
    fi
    perl -0pi -e 's/(override val message\n\s*get\(\) = )"[^\n]*"\n/$1toString()\n/g' "$kt"
    if grep -qE '^\s*get\(\) = ".*"$' "$kt"; then
        echo "error: an error message getter in $kt was not rewritten (uniffi's output changed?)" >&2
        exit 1
    fi
    echo "Kotlin bindings: $kt ($errors error types)"
    ;;
swift)
    swift="$out_dir/IbKeyCore.swift"
    for f in "$swift" "$out_dir/IbKeyCoreFFI.h" "$out_dir/IbKeyCoreFFI.modulemap"; do
        [ -s "$f" ] || { echo "error: uniffi-bindgen wrote no $f" >&2; exit 1; }
    done
    errors=$(grep -oE '^enum [A-Za-z]+Error: Swift\.Error' "$swift" | awk '{print $2}' | tr -d ':')
    [ -n "$errors" ] || { echo "error: no error enums in $swift" >&2; exit 1; }
    {
        echo
        echo "// Added by uniffi/generate-bindings.sh: the Rust Display text (\`description\`) is"
        echo "// each error's message, so \`localizedDescription\` is the core's human message."
        for e in $errors; do
            if grep -qE "^enum $e: .*CustomStringConvertible" "$swift"; then continue; fi
            display="_fn_method_$(echo "$e" | tr '[:upper:]' '[:lower:]')_uniffi_trait_display("
            if ! grep -qF "$display" "$swift"; then
                echo "error: $e has no Rust Display export in $swift" >&2
                exit 1
            fi
            echo "extension $e: CustomStringConvertible {}"
        done
    } >>"$swift"
    echo "Swift bindings: $(cd "$out_dir" && ls | tr '\n' ' ')"
    ;;
esac
