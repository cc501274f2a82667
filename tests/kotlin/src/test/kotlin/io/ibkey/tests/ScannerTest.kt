package io.ibkey.tests

import io.ibkey.android.common.FrameScanner
import io.ibkey.android.common.ibkeyCode
import io.ibkey.core.ActivationOutcome
import io.ibkey.core.FrameResult
import io.ibkey.core.ScanException
import io.ibkey.ffi.Scanner
import io.ibkey.ffi.decodeQrImage
import io.ibkey.ffi.renderQrPngForTests
import io.ibkey.testsupport.ReferenceServer
import java.io.ByteArrayInputStream
import java.nio.ByteBuffer
import javax.imageio.ImageIO
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertIs
import kotlin.test.assertTrue
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.AfterAll
import org.junit.jupiter.api.BeforeAll
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.TestInstance

/** A 1080p camera frame's luma plane, as CameraX delivers it: rows padded past the width. */
class LumaFrame(val width: Int = 1920, val height: Int = 1080, val rowStride: Int = width + 64) {
    /** Mid grey everywhere, and a different value in the row padding (never part of the image). */
    val buffer: ByteBuffer = ByteBuffer.allocateDirect(rowStride * height).also { buf ->
        for (y in 0 until height) {
            for (x in 0 until rowStride) buf.put(y * rowStride + x, if (x < width) GREY else PADDING)
        }
    }

    /** Draws a PNG (a QR code) as luma, centred. */
    fun draw(png: ByteArray): LumaFrame {
        val image = ImageIO.read(ByteArrayInputStream(png)) ?: error("not an image")
        check(image.width <= width && image.height <= height) { "${image.width}x${image.height} does not fit" }
        val left = (width - image.width) / 2
        val top = (height - image.height) / 2
        for (y in 0 until image.height) {
            for (x in 0 until image.width) {
                val rgb = image.getRGB(x, y)
                val luma = (299 * (rgb shr 16 and 0xff) + 587 * (rgb shr 8 and 0xff) + 114 * (rgb and 0xff)) / 1000
                buffer.put((top + y) * rowStride + left + x, luma.toByte())
            }
        }
        return this
    }

    companion object {
        const val GREY: Byte = 0x80.toByte()
        const val PADDING: Byte = 0
    }
}

/** The camera scanner through the Kotlin bindings: frames in, activation payloads out. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ScannerTest {
    private lateinit var server: ReferenceServer

    @BeforeAll
    fun startServer() {
        server = ReferenceServer.start()
    }

    @AfterAll
    fun stopServer() = server.close()

    private fun Scanner.scan(frame: LumaFrame): FrameResult =
        scanFrame(frame.width.toUInt(), frame.height.toUInt(), frame.rowStride.toUInt(), frame.buffer)

    @Test
    fun `a ticket QR in a 1080p frame is read once, then activates the user`() = runBlocking<Unit> {
        // The CLI renders the ticket's QR code exactly as the portal shows it.
        val png = server.ticketQrPng("grace")
        val frame = LumaFrame().draw(png)
        val empty = LumaFrame()

        FrameScanner().use { frames ->
            val first = frames.scanFrame(frame.buffer, frame.width, frame.height, frame.rowStride)
            val payload = assertIs<FrameResult.Payload>(first).text
            assertTrue(payload.startsWith("IBK1."), payload)
            // The core read the plane in place: the buffer is untouched and can be reused.
            assertEquals(0, frame.buffer.position())
            assertEquals(frame.rowStride * frame.height, frame.buffer.limit())

            assertEquals(FrameResult.SameAsBefore, frames.scanFrame(frame.buffer, frame.width, frame.height, frame.rowStride))
            assertEquals(FrameResult.NoCode, frames.scanFrame(empty.buffer, empty.width, empty.height, empty.rowStride))
            frames.reset()
            assertEquals(FrameResult.Payload(payload), frames.scanner.scan(frame))

            // The same picture as a file gives the same payload.
            assertEquals(FrameResult.Payload(payload), Scanner().use { it.scanImage(png) })
            assertEquals(payload, decodeQrImage(png))

            Phone(server.url, server.publicKey).use { phone ->
                val request = phone.ibkey.inspectQr(payload)
                assertEquals("grace", request.username)
                assertEquals(server.url, request.serverUrl)
                val activated = assertIs<ActivationOutcome.Activated>(phone.ibkey.activateFromQr(payload))
                assertEquals("grace", activated.account.username)
                assertEquals(listOf("grace"), phone.ibkey.accounts().map { it.username })
            }
        }
    }

    @Test
    fun `the scanned payload is the ticket's own`() {
        val ticket = server.ticket("heidi")
        val frame = LumaFrame().draw(renderQrPngForTests(ticket.qrPayload, 8u))
        Scanner().use { scanner ->
            assertEquals(FrameResult.Payload(ticket.qrPayload), scanner.scan(frame))
            assertEquals(FrameResult.SameAsBefore, scanner.scan(frame))
        }
    }

    @Test
    fun `a QR code that is not an activation code is told apart`() {
        val frame = LumaFrame().draw(renderQrPngForTests("https://example.com", 8u))
        Scanner().use { scanner ->
            assertEquals(FrameResult.ForeignCode, scanner.scan(frame))
            assertEquals(FrameResult.ForeignCode, scanner.scan(frame))
        }
    }

    @Test
    fun `a plane starting at the buffer's position is read from there, in place`() {
        val text = "IBK1.offset.test"
        val frame = LumaFrame().draw(renderQrPngForTests(text, 8u))
        val offset = 1000 // not a whole number of rows: read from the buffer's start, the code would be cut
        val shifted = ByteBuffer.allocateDirect(offset + frame.buffer.capacity())
        shifted.position(offset)
        shifted.put(frame.buffer.duplicate())
        shifted.position(offset)
        FrameScanner().use { frames ->
            assertEquals(FrameResult.Payload(text), frames.scanFrameNow(shifted, frame.width, frame.height, frame.rowStride))
            assertEquals(offset, shifted.position())
        }
    }

    @Test
    fun `frames the core cannot take are typed errors with a code`() {
        val frame = LumaFrame()
        Scanner().use { scanner ->
            val stride = assertFailsWith<ScanException.BadStride> {
                scanner.scanFrame(1920u, 1080u, 1000u, frame.buffer)
            }
            assertEquals(1920u, stride.width)
            assertEquals(1000u, stride.stride)
            assertEquals("SCAN_BAD_STRIDE", stride.code())
            assertTrue(stride.message.startsWith("The camera delivered a frame with rows of 1000 bytes"), stride.message)

            val short = ByteBuffer.allocateDirect(1920 * 100)
            val truncated = assertFailsWith<ScanException.BufferTooSmall> {
                scanner.scanFrame(1920u, 1080u, 1920u, short)
            }
            assertEquals(1920uL * 1079uL + 1920uL, truncated.needed)
            assertEquals(1920uL * 100uL, truncated.actual)
            assertEquals("SCAN_BUFFER_TOO_SMALL", truncated.ibkeyCode)

            val size = assertFailsWith<ScanException.BadFrameSize> {
                scanner.scanFrame(0u, 1080u, 1920u, frame.buffer)
            }
            assertEquals("SCAN_BAD_FRAME_SIZE", size.code())

            val notAnImage = assertFailsWith<ScanException.NotAnImage> { scanner.scanImage("not a picture".toByteArray()) }
            assertEquals("SCAN_NOT_AN_IMAGE", notAnImage.code())
        }
    }
}
