//! Link flags of the shared library: pack its relative relocations.
//!
//! A position-independent library holds one relocation per pointer in its read-only data
//! (vtables, string tables); as plain RELA entries they take 24 bytes each (about 150 KB
//! here). Packed as RELR they take a few kilobytes, and the loader applies them faster.
//! glibc loads RELR from 2.36 (GNU ld 2.38+ writes it); Android from API 28 with its own
//! tags (the Android library's minSdk is 28).

fn main() {
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    match (os.as_str(), env.as_str()) {
        ("linux", "gnu") => {
            println!("cargo:rustc-cdylib-link-arg=-Wl,-z,pack-relative-relocs");
        }
        ("android", _) => {
            println!(
                "cargo:rustc-cdylib-link-arg=-Wl,--pack-dyn-relocs=android+relr,--use-android-relr-tags"
            );
        }
        _ => {}
    }
}
