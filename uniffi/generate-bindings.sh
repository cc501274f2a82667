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
# Kotlin output, one file a crate (needs JNA 5 and kotlinx-coroutines):
#   OUT_DIR/io/ibkey/core/ibkey_core.kt          the core's records, enums and errors
#   OUT_DIR/io/ibkey/protocol/ibkey_protocol.kt  the bundle manifest's types
#   OUT_DIR/io/ibkey/ffi/ibkey.kt                the objects (Authenticator, …) and traits
# Swift output: IbKeyCore.swift, IbKeyProtocol.swift, IbKeyFFI.swift (compiled together into
# one module) and their C headers IbKeyCoreFFI.h, IbKeyProtocolFFI.h, IbKeyFFIHeaders.h.
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
    # One file a crate: io/ibkey/core/ibkey_core.kt (the core's types), io/ibkey/protocol/
    # ibkey_protocol.kt (the bundle manifest's), io/ibkey/ffi/ibkey.kt (objects and traits).
    files=$(find "$out_dir" -name '*.kt' | sort)
    [ "$(echo "$files" | grep -c .)" -eq 3 ] || {
        echo "error: uniffi-bindgen wrote $(echo "$files" | grep -c .) Kotlin files, not 3, in $out_dir" >&2
        exit 1
    }
    total=0
    for kt in $files; do
        # Every error class must have the Rust Display as toString() before its message can
        # use it.
        errors=$(grep -cE '^sealed class [A-Za-z]+Exception: kotlin\.Exception\(\)' "$kt" || true)
        displays=$(grep -c '_uniffi_trait_display(FfiConverterType[A-Za-z]*Error\.lower(this)' "$kt" || true)
        if [ "$errors" -ne "$displays" ]; then
            echo "error: $errors error classes but $displays Display exports in $kt" >&2
            exit 1
        fi
        perl -0pi -e 's/(override val message\n\s*get\(\) = )"[^\n]*"\n/$1toString()\n/g' "$kt"
        if grep -qE '^\s*get\(\) = ".*"$' "$kt"; then
            echo "error: an error message getter in $kt was not rewritten (uniffi's output changed?)" >&2
            exit 1
        fi
        total=$((total + errors))
    done
    [ "$total" -gt 0 ] || { echo "error: no error classes in $out_dir" >&2; exit 1; }
    echo "Kotlin bindings: $(echo $files) ($total error types)"
    ;;
swift)
    # One Swift file and one C header a crate; all compile into one Swift module and one
    # clang module (IbKeyCoreFFI), as ios/build-xcframework.sh arranges.
    for f in IbKeyCore.swift IbKeyProtocol.swift IbKeyFFI.swift IbKeyCoreFFI.h IbKeyProtocolFFI.h IbKeyFFIHeaders.h; do
        [ -s "$out_dir/$f" ] || { echo "error: uniffi-bindgen wrote no $out_dir/$f" >&2; exit 1; }
    done
    for swift in "$out_dir"/*.swift; do
        errors=$(grep -oE '^(public )?enum [A-Za-z]+Error: Swift\.Error' "$swift" | sed -E 's/^(public )?enum ([A-Za-z]+):.*/\2/' || true)
        [ -n "$errors" ] || continue
        {
            echo
            echo "// Added by uniffi/generate-bindings.sh: the Rust Display text (\`description\`) is"
            echo "// each error's message, so \`localizedDescription\` is the core's human message."
            for e in $errors; do
                if grep -qE "^(public )?enum $e: .*CustomStringConvertible" "$swift"; then continue; fi
                display="_fn_method_$(echo "$e" | tr '[:upper:]' '[:lower:]')_uniffi_trait_display("
                if ! grep -qF "$display" "$swift"; then
                    echo "error: $e has no Rust Display export in $swift" >&2
                    exit 1
                fi
                echo "extension $e: CustomStringConvertible {}"
            done
        } >>"$swift"
    done
    echo "Swift bindings: $(cd "$out_dir" && ls | tr '\n' ' ')"
    ;;
esac
