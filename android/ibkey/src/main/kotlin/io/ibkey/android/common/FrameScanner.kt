package io.ibkey.android.common

import io.ibkey.core.FrameResult
import io.ibkey.ffi.Scanner
import java.nio.ByteBuffer
import kotlinx.coroutines.CoroutineDispatcher
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.withContext

/**
 * Feeds camera frames to the core's [Scanner]: the 8-bit luma (Y) plane exactly as the camera
 * delivers it, `height` rows of `width` pixels whose starts are `rowStride` bytes apart.
 *
 * The plane must be a direct [ByteBuffer] (CameraX's `planes[0].buffer` is one): the core
 * reads it in place, without a copy, from its position to its limit; the buffer's position
 * and limit are left as they were. Scanning a frame takes
 * milliseconds of CPU, so [scanFrame] runs on [dispatcher] (by default
 * [Dispatchers.Default]); a caller already off the main thread, such as a CameraX analyzer on
 * its own executor, can call [scanFrameNow].
 *
 * Results: [FrameResult.Payload] the first time an activation code is read (pass its text to
 * [IbKey.activateFromQr]), [FrameResult.SameAsBefore] while that code stays in view,
 * [FrameResult.ForeignCode] for any other QR code, [FrameResult.NoCode] otherwise. A frame the
 * core cannot take (bad size, stride shorter than the width, truncated buffer) throws
 * `ScanException`, with a `code()` and a human message.
 *
 * One per scanner screen; [close] it when the screen goes (it frees the Rust object).
 */
class FrameScanner(
    private val dispatcher: CoroutineDispatcher = Dispatchers.Default,
) : AutoCloseable {

    /** The underlying core object. */
    val scanner: Scanner = Scanner()

    /** Scans one frame on [dispatcher]. */
    suspend fun scanFrame(luma: ByteBuffer, width: Int, height: Int, rowStride: Int): FrameResult =
        withContext(dispatcher) { scanFrameNow(luma, width, height, rowStride) }

    /** Scans one frame on the calling thread (never call it on the main thread). */
    fun scanFrameNow(luma: ByteBuffer, width: Int, height: Int, rowStride: Int): FrameResult {
        require(luma.isDirect) { "the luma plane must be a direct ByteBuffer" }
        require(width >= 0 && height >= 0 && rowStride >= 0) {
            "negative frame geometry: ${width}x$height, row stride $rowStride"
        }
        // The bindings pass the buffer's base address with `remaining()` bytes: a buffer not at
        // position 0 goes as a view starting at its position (no copy).
        val plane = if (luma.position() == 0) luma else luma.slice()
        return scanner.scanFrame(width.toUInt(), height.toUInt(), rowStride.toUInt(), plane)
    }

    /** Scans a picture (PNG or JPEG bytes: a screenshot, a gallery photo) on [dispatcher]. */
    suspend fun scanImage(bytes: ByteArray): FrameResult =
        withContext(dispatcher) { scanner.scanImage(bytes) }

    /** Forgets the last code returned: the next frame holding it returns it again. */
    fun reset() = scanner.reset()

    /** Frees the core object; calls after this fail with `IllegalStateException`. */
    override fun close() = scanner.close()
}
