package io.ibkey.android

import java.util.TreeMap
import javax.annotation.Priority
import javax.inject.Inject
import org.robolectric.internal.dependency.DependencyResolver
import org.robolectric.pluginapi.Sdk
import org.robolectric.plugins.DefaultSdkProvider

/**
 * Robolectric's SDKs up to Android 14 (API 34) only. Robolectric loads the system resources from
 * the newest SDK it knows (API 35 in 4.14), which would be a second 150 MB jar to fetch; with
 * this provider (registered in META-INF/services) the one Android 14 jar the build copies into
 * robolectric.dependency.dir serves both purposes.
 */
@Priority(1) // above DefaultSdkProvider's Integer.MIN_VALUE
class Android14SdkProvider @Inject constructor(resolver: DependencyResolver) : DefaultSdkProvider(resolver) {
    override fun populateSdks(knownSdks: TreeMap<Int, Sdk>) {
        super.populateSdks(knownSdks)
        knownSdks.tailMap(MAX_API, false).clear()
    }

    private companion object {
        const val MAX_API = 34
    }
}
