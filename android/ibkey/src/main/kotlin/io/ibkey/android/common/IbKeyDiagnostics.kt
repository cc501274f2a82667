package io.ibkey.android.common

import io.ibkey.core.BundleRequest
import io.ibkey.core.DiagnosticsConfig
import io.ibkey.core.FlushReport
import io.ibkey.core.HttpTransport
import io.ibkey.core.LogLevel
import io.ibkey.core.OutboxEntry
import io.ibkey.core.SendOutcome
import io.ibkey.core.SentBundle
import io.ibkey.ffi.Diagnostics
import io.ibkey.ffi.LogSink
import io.ibkey.ffi.PreparedBundle
import io.ibkey.ffi.Sleeper
import io.ibkey.ffi.UploadProgress
import io.ibkey.protocol.LogMode
import kotlinx.coroutines.CoroutineDispatcher
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.delay
import kotlinx.coroutines.withContext

/**
 * The app's diagnostics: the core's logs (to [LogSink], a ring in memory, one file a day),
 * debug mode and the extended log, support bundles the user previews before agreeing, and an
 * upload outbox that never loses a bundle. Every call that touches files runs on [dispatcher].
 *
 * Make one per app process, before the [IbKey] (pass [diagnostics] to it so the extended log
 * traces the core's HTTP exchanges), and call [flushOutbox] when the app starts and when the
 * network comes back. Failures are `DiagnosticsException`s with the core's message and `code()`.
 */
class IbKeyDiagnostics(
    config: DiagnosticsConfig,
    http: HttpTransport = HttpUrlConnectionTransport(),
    private val dispatcher: CoroutineDispatcher = Dispatchers.IO,
) : AutoCloseable {

    /** The underlying core object; give it to [IbKey]. */
    val diagnostics: Diagnostics = Diagnostics(config, http, CoroutineSleeper)

    /** The log mode now (normal, debug mode, extended log). */
    val logMode: LogMode get() = diagnostics.logMode()

    /** Switches the log mode, from now on and after a restart. */
    suspend fun setLogMode(mode: LogMode) = onDispatcher { diagnostics.setLogMode(mode) }

    /** Sends the core's log lines at [level] and above to [sink] (logcat), or to none. */
    fun setLogSink(sink: LogSink?, level: LogLevel) = diagnostics.setLogSink(sink, level)

    /**
     * Builds the bundle the user asked for; nothing is sent. Show its `preview()`, and close it
     * (`use { }`) when done: it holds the zip in native memory.
     */
    suspend fun prepare(request: BundleRequest): PreparedBundle =
        onDispatcher { diagnostics.prepareBundle(request) }

    /**
     * Sends [bundle]: call it only once the user has agreed to the preview. Without a connection
     * the bundle waits in the outbox ([SendOutcome.Queued]). [onProgress] gets bytes sent and
     * the total.
     */
    suspend fun send(bundle: PreparedBundle, onProgress: ((sent: Long, total: Long) -> Unit)? = null): SendOutcome =
        onDispatcher { diagnostics.send(bundle, onProgress?.let(::ProgressCallback)) }

    /** Sends the bundles waiting in the outbox, oldest first. */
    suspend fun flushOutbox(onProgress: ((sent: Long, total: Long) -> Unit)? = null): FlushReport =
        onDispatcher { diagnostics.flushOutbox(onProgress?.let(::ProgressCallback)) }

    /** The bundles waiting to be sent, oldest first. */
    suspend fun outbox(): List<OutboxEntry> = onDispatcher { diagnostics.outbox() }

    /** The last bundles the server confirmed, with the references to quote to support. */
    suspend fun sentHistory(): List<SentBundle> = onDispatcher { diagnostics.sentHistory() }

    /** Frees the core object. */
    override fun close() = diagnostics.close()

    private suspend fun <T> onDispatcher(block: suspend () -> T): T = withContext(dispatcher) { block() }

    /** Waits between upload retries with a coroutine [delay]: no thread is blocked. */
    private object CoroutineSleeper : Sleeper {
        override suspend fun sleep(millis: ULong) = delay(millis.toLong())
    }

    /** An [UploadProgress] over a Kotlin function. */
    private class ProgressCallback(private val onProgress: (Long, Long) -> Unit) : UploadProgress {
        override fun onProgress(bundleId: String, sentBytes: ULong, totalBytes: ULong) =
            onProgress(sentBytes.toLong(), totalBytes.toLong())
    }
}
