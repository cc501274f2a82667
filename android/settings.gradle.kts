// The ibkey Android shell: the `ibkey` library module (platform adapters over the Rust core,
// built with cargo-ndk) and a small `sample` app. Open this folder in Android Studio, or see
// README.md for the command line.

pluginManagement {
    repositories {
        google()
        mavenCentral()
        gradlePluginPortal()
    }
}

dependencyResolutionManagement {
    repositoriesMode.set(RepositoriesMode.FAIL_ON_PROJECT_REPOS)
    repositories {
        google()
        mavenCentral()
    }
}

rootProject.name = "ibkey-android"
include(":ibkey", ":sample")
