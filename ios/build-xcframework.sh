#!/usr/bin/env bash
# Builds what the IbKey Swift package needs from the Rust workspace, on a Mac with Xcode:
#
#   ios/build/IbKeyCoreFFI.xcframework     the `mobile`-profile static library of ibkey-ffi for
#                                          iOS devices (arm64), the iOS simulator (arm64 +
#                                          x86_64) and macOS (arm64 + x86_64, for `swift test`),
#                                          with the FFI header and module map
#   ios/Sources/IbKey/Generated/*.swift    the uniffi Swift bindings (IbKeyCore, IbKeyProtocol,
#                                          IbKeyFFI: one file a crate, one Swift module)
#
# The bindings are generated from an unstripped host `release` build (uniffi-bindgen reads
# them from the library's metadata, which the `mobile` profile strips) of the same crate with
# the same features, so they match the shipped library. Usage: ios/build-xcframework.sh
# For the XCTest suite, build with the test hooks (software keys, the clock skew hook):
# IBKEY_FEATURES=test-hooks ios/build-xcframework.sh. Never ship that build.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
build="$here/build"
profile=mobile
features=${IBKEY_FEATURES:-}
ios_targets="aarch64-apple-ios"
simulator_targets="aarch64-apple-ios-sim x86_64-apple-ios"
macos_targets="aarch64-apple-darwin x86_64-apple-darwin"

fail() {
    echo "error: $*" >&2
    exit 1
}

need() {
    command -v "$1" >/dev/null 2>&1 || fail "'$1' was not found: $2"
}

[ "$(uname -s)" = Darwin ] || fail "this script needs macOS with Xcode (it runs xcodebuild and lipo)"
need cargo "install Rust with rustup (https://rustup.rs)"
need rustup "install Rust with rustup (https://rustup.rs); the Apple targets come from it"
need xcodebuild "install Xcode, then run: sudo xcode-select -s /Applications/Xcode.app"
need lipo "install the Xcode command line tools: xcode-select --install"

installed=$(rustup target list --installed)
missing=""
for target in $ios_targets $simulator_targets $macos_targets; do
    echo "$installed" | grep -qx "$target" || missing="$missing $target"
done
[ -z "$missing" ] || fail "Rust targets missing; add them with: rustup target add$missing"

target_dir=${CARGO_TARGET_DIR:-$root/target}
# The oldest systems the library runs on, the same as Package.swift's platforms.
export IPHONEOS_DEPLOYMENT_TARGET=15.0
export MACOSX_DEPLOYMENT_TARGET=12.0

rm -rf "$build"
mkdir -p "$build"

for target in $ios_targets $simulator_targets $macos_targets; do
    echo "==> ibkey-ffi, profile $profile, $target"
    cargo build --manifest-path "$root/Cargo.toml" -p ibkey-ffi --profile "$profile" --target "$target" ${features:+--features "$features"}
done

echo "==> Swift bindings (from the unstripped host release build)"
cargo build --manifest-path "$root/Cargo.toml" -p ibkey-ffi --release ${features:+--features "$features"}
CARGO_TARGET_DIR="$target_dir" bash "$root/uniffi/generate-bindings.sh" swift "$build/swift"

# Three Swift files (the core's types, the protocol's, the objects) that compile into the one
# IbKey module, and their three C headers, which form the one clang module they all import.
ffi_module=IbKeyCoreFFI
ffi_headers="IbKeyCoreFFI.h IbKeyProtocolFFI.h IbKeyFFIHeaders.h"
swift_files="IbKeyCore.swift IbKeyProtocol.swift IbKeyFFI.swift"
for f in $ffi_headers $swift_files; do
    [ -f "$build/swift/$f" ] || fail "uniffi-bindgen wrote no $f"
done
for f in $swift_files; do
    grep -q "import $ffi_module" "$build/swift/$f" ||
        fail "$f does not import $ffi_module; check the uniffi.toml files' [bindings.swift]"
done

# Headers of every slice. The header sits in a folder named after the module, so that Xcode,
# which copies the Headers of all static-library XCFrameworks into one include/ folder, keeps
# it apart from other packages' headers. The module map stays at the top of Headers, where
# the explicit-module scanner of Xcode 26 and later looks for it. It is written here rather
# than copied from uniffi: uniffi's declares `use "_Builtin_stdbool"` and
# `use "_Builtin_stdint"`, modules that newer Apple toolchains no longer have, which makes
# `canImport` of the FFI module false (uniffi-rs issue 2917).
headers="$build/headers"
mkdir -p "$headers/$ffi_module"
{
    echo "module $ffi_module {"
    for h in $ffi_headers; do
        cp "$build/swift/$h" "$headers/$ffi_module/$h"
        echo "    header \"$ffi_module/$h\""
    done
    echo "    export *"
    echo "}"
} >"$headers/module.modulemap"

# One library per platform: the simulator and macOS slices each join two architectures.
fat() {
    local output=$1
    shift
    local inputs=""
    for target in "$@"; do
        inputs="$inputs $target_dir/$target/$profile/libibkey_ffi.a"
    done
    mkdir -p "$(dirname "$output")"
    # shellcheck disable=SC2086 # one path per word
    lipo -create $inputs -output "$output"
}
mkdir -p "$build/ios"
cp "$target_dir/$ios_targets/$profile/libibkey_ffi.a" "$build/ios/libibkey_ffi.a"
# shellcheck disable=SC2086 # the target lists split into words
fat "$build/ios-simulator/libibkey_ffi.a" $simulator_targets
# shellcheck disable=SC2086
fat "$build/macos/libibkey_ffi.a" $macos_targets

echo "==> $ffi_module.xcframework"
xcodebuild -create-xcframework \
    -library "$build/ios/libibkey_ffi.a" -headers "$headers" \
    -library "$build/ios-simulator/libibkey_ffi.a" -headers "$headers" \
    -library "$build/macos/libibkey_ffi.a" -headers "$headers" \
    -output "$build/$ffi_module.xcframework"

generated="$here/Sources/IbKey/Generated"
rm -rf "$generated"
mkdir -p "$generated"
for f in $swift_files; do
    cp "$build/swift/$f" "$generated/"
done

echo
echo "Built $build/$ffi_module.xcframework and $generated/{$(echo $swift_files | tr ' ' ',')}."
echo "Next: cd ios && swift build (or swift test; see README.md)."
