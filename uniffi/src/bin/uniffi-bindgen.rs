//! The uniffi bindings generator, built from this workspace so its version always matches the
//! library's: `cargo run -p ibkey-ffi --features cli --bin uniffi-bindgen -- generate --library
//! <lib> --language kotlin --out-dir <dir>`.

fn main() {
    uniffi::uniffi_bindgen_main()
}
