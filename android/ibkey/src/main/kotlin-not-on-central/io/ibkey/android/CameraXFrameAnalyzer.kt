package io.ibkey.android

import android.graphics.ImageFormat
import androidx.camera.core.ImageAnalysis
import androidx.camera.core.ImageProxy
import io.ibkey.android.common.FrameScanner
import io.ibkey.core.FrameResult
import io.ibkey.core.ScanException

/**
 * A CameraX [ImageAnalysis.Analyzer] that reads activation QR codes: it hands each frame's
 * luma (Y) plane, `image.planes[0].buffer` with its row stride, width and height, to the
 * core's scanner without copying it, and reports what it found.
 *
 * Use it with the default `ImageAnalysis` output format (`OUTPUT_IMAGE_FORMAT_YUV_420_888`)
 * and `STRATEGY_KEEP_ONLY_LATEST`, so a slow frame drops the ones behind it:
 *
 * ```
 * val analysis = ImageAnalysis.Builder()
 *     .setBackpressureStrategy(ImageAnalysis.STRATEGY_KEEP_ONLY_LATEST)
 *     .build()
 * analysis.setAnalyzer(executor, CameraXFrameAnalyzer(frameScanner, onPayload = { payload ->
 *     analysis.clearAnalyzer()
 *     mainScope.launch { ibkey.activateFromQr(payload) }
 * }))
 * ```
 *
 * The callbacks run on the analyzer's executor, not the main thread. [onPayload] gets the text
 * of an activation code once when it comes into view; [onForeignCode] is called for every
 * frame holding a QR code that is not an activation code (throttle the hint you show);
 * [onError] gets a frame the core could not take (its `code()` is for diagnostics). Rotation
 * does not matter: the scanner reads codes at any angle. Every frame is closed after the scan,
 * whatever happens, so CameraX keeps delivering frames.
 */
class CameraXFrameAnalyzer(
    private val scanner: FrameScanner,
    private val onPayload: (String) -> Unit,
    private val onForeignCode: () -> Unit = {},
    private val onError: (ScanException) -> Unit = {},
) : ImageAnalysis.Analyzer {

    override fun analyze(image: ImageProxy) {
        try {
            // Only YUV frames have a luma plane first; an RGBA analysis output would be misread.
            if (image.format != ImageFormat.YUV_420_888) return
            val luma = image.planes[0]
            // The Y plane of YUV_420_888 has a pixel stride of 1: one byte a pixel.
            if (luma.pixelStride != 1) return
            val result = try {
                scanner.scanFrameNow(luma.buffer, image.width, image.height, luma.rowStride)
            } catch (e: ScanException) {
                onError(e)
                return
            }
            when (result) {
                is FrameResult.Payload -> onPayload(result.text)
                FrameResult.ForeignCode -> onForeignCode()
                FrameResult.SameAsBefore, FrameResult.NoCode -> Unit
            }
        } finally {
            image.close()
        }
    }
}
