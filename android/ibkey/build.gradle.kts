import org.jetbrains.kotlin.gradle.dsl.JvmTarget

// The ibkey Android library: the Rust core (libibkey_ffi.so for each ABI, built by cargo-ndk),
// its uniffi-generated Kotlin bindings (package io.ibkey.core), and the platform adapters in
// src/main/kotlin/io/ibkey/android.

plugins {
    alias(libs.plugins.android.library)
    alias(libs.plugins.kotlin.android)
}

// minSdk 28 (Android 9): StrongBox and the platform BiometricPrompt exist from API 28, so the
// adapters have no fingerprint-dialog or no-StrongBox-API branches, and the Rust libraries are
// linked against the same API level. Android 8.x is a small and shrinking share of devices.
val minSdkLevel = 28
// The NDK cargo-ndk links with, when the SDK has it (otherwise cargo-ndk picks the newest one
// it finds, or the one in ANDROID_NDK_HOME).
val ndkVersionPinned = "27.2.12479018"

// The Cargo workspace: this module is android/ibkey.
val workspaceDir: File = projectDir.resolve("../..").canonicalFile
val jniLibsDir: File = projectDir.resolve("src/main/jniLibs")
val generatedBindingsDir: Provider<Directory> = layout.buildDirectory.dir("generated/uniffi")

android {
    namespace = "io.ibkey.android"
    compileSdk = 35
    ndkVersion = ndkVersionPinned

    defaultConfig {
        minSdk = minSdkLevel
        consumerProguardFiles("consumer-rules.pro")
    }

    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }

    sourceSets.getByName("main") {
        // src/main/jniLibs (cargoNdkBuild's output) is a default source folder already.
        kotlin.srcDir(generatedBindingsDir)
        // Code over libraries that are not on Maven Central (CameraX, Firebase): part of the library, but
        // left out of the JVM compile check in tests/android, which compiles src/main/kotlin.
        kotlin.srcDir("src/main/kotlin-not-on-central")
    }
}

kotlin {
    compilerOptions {
        jvmTarget.set(JvmTarget.JVM_17)
    }
}

dependencies {
    // uniffi's Kotlin calls the Rust library through JNA; the @aar carries libjnidispatch.so
    // for every Android ABI.
    implementation("net.java.dev.jna:jna:${libs.versions.jna.get()}@aar")
    implementation(libs.kotlinx.coroutines.android)
    implementation(libs.androidx.core.ktx)
    implementation(libs.androidx.biometric)
    // FragmentActivity is part of this module's API (PinPad, the BiometricPrompt host).
    api(libs.androidx.fragment.ktx)
    // ImageAnalysis.Analyzer is part of this module's API (CameraXFrameAnalyzer).
    api(libs.androidx.camera.core)
    // FirebaseMessagingService is part of this module's API (IbKeyMessagingService).
    api(libs.firebase.messaging)
}

// The shipped libraries: `--profile mobile` (size-optimised, LTO, stripped) for each ABI, into
// src/main/jniLibs/<abi>/libibkey_ffi.so. Cargo decides what is up to date, so the task always
// runs and is quick when nothing changed.
val cargoNdkBuild by tasks.registering(Exec::class) {
    group = "rust"
    description = "Builds libibkey_ffi.so for arm64-v8a, armeabi-v7a and x86_64 with cargo-ndk."
    workingDir = workspaceDir
    commandLine(
        "cargo", "ndk",
        "--platform", minSdkLevel.toString(),
        "-t", "arm64-v8a",
        "-t", "armeabi-v7a",
        "-t", "x86_64",
        "-o", jniLibsDir.absolutePath,
        "build", "--profile", "mobile", "-p", "ibkey-ffi",
    )
    // Locals, so the action captures no script object.
    val ndkDirectory = androidComponents.sdkComponents.ndkDirectory
    val ndkVersion = ndkVersionPinned
    doFirst {
        if (System.getenv("ANDROID_NDK_HOME").isNullOrEmpty()) {
            val ndk = runCatching { ndkDirectory.get().asFile }.getOrNull()
            if (ndk != null && ndk.isDirectory) {
                environment("ANDROID_NDK_HOME", ndk.absolutePath)
            } else {
                logger.warn("NDK $ndkVersion is not installed; cargo-ndk will look for one itself")
            }
        }
    }
}

// uniffi-bindgen reads the bindings from the library's metadata, which the stripped `mobile`
// build no longer has: build the unstripped host `release` library (same crate, same features)
// and generate from that. uniffi/generate-bindings.sh also turns each error's `message` into
// the core's human text.
val cargoHostRelease by tasks.registering(Exec::class) {
    group = "rust"
    description = "Builds the unstripped host libibkey_ffi the Kotlin bindings are generated from."
    workingDir = workspaceDir
    commandLine("cargo", "build", "--release", "-p", "ibkey-ffi")
}

val generateUniffiBindings by tasks.registering(Exec::class) {
    group = "rust"
    description = "Generates the Kotlin bindings (io.ibkey.core) into build/generated/uniffi."
    dependsOn(cargoHostRelease)
    workingDir = workspaceDir
    // No declared outputs: it runs every build (the script rewrites identical files when
    // nothing changed, and the Kotlin compile task, which fingerprints content, stays up to date).
    commandLine("bash", "uniffi/generate-bindings.sh", "kotlin", generatedBindingsDir.get().asFile.absolutePath)
}

// `-Pibkey.skipRust` reuses the libraries and bindings of an earlier build (for Kotlin-only work).
if (!providers.gradleProperty("ibkey.skipRust").isPresent) {
    tasks.named("preBuild") {
        dependsOn(cargoNdkBuild, generateUniffiBindings)
    }
}
