// swift-tools-version:5.9
// The ibkey iOS shell: the Rust core as an XCFramework (made by build-xcframework.sh), its
// uniffi-generated Swift bindings, and the platform adapters (Keychain, Secure Enclave,
// LocalAuthentication, URLSession, os_log). macOS is here so `swift test` runs on a Mac.

import PackageDescription

let package = Package(
    name: "IbKey",
    platforms: [.iOS(.v15), .macOS(.v12)],
    products: [
        .library(name: "IbKey", targets: ["IbKey"]),
    ],
    targets: [
        // The Rust static library for iOS devices, the iOS simulator and macOS, with the C
        // header and module map of the FFI module the generated Swift imports. Named after
        // that module (uniffi.toml: ffi_module_name = "IbKeyCoreFFI").
        .binaryTarget(
            name: "IbKeyCoreFFI",
            path: "build/IbKeyCoreFFI.xcframework"
        ),
        // Sources/IbKey/Generated/{IbKeyCore,IbKeyProtocol,IbKeyFFI}.swift are copied in by
        // build-xcframework.sh.
        .target(
            name: "IbKey",
            dependencies: ["IbKeyCoreFFI"],
            path: "Sources/IbKey",
            linkerSettings: [
                .linkedFramework("Security"),
                .linkedFramework("LocalAuthentication"),
            ]
        ),
        .testTarget(
            name: "IbKeyTests",
            dependencies: ["IbKey"],
            path: "Tests/IbKeyTests"
        ),
    ]
)
