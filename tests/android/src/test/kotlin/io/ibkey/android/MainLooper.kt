package io.ibkey.android

import android.os.Looper
import java.util.concurrent.TimeUnit
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.async
import kotlinx.coroutines.runBlocking
import org.robolectric.Shadows.shadowOf

/**
 * Runs [block] off the main thread while this (the test's main) thread keeps running the main
 * looper, as Android's main thread would: the adapters switch to `Dispatchers.Main` to show the
 * PIN pad or the prompt, which a blocked test thread would never let happen.
 */
fun <T> awaitWithMainLooper(timeoutSeconds: Long = 60, block: suspend () -> T): T {
    val result = CoroutineScope(Dispatchers.Default).async { block() }
    val deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(timeoutSeconds)
    while (!result.isCompleted) {
        shadowOf(Looper.getMainLooper()).idle()
        if (System.nanoTime() > deadline) {
            result.cancel()
            error("not done within $timeoutSeconds s")
        }
        Thread.sleep(2)
    }
    return runBlocking { result.await() }
}
