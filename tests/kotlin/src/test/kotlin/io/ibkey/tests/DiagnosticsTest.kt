package io.ibkey.tests

import io.ibkey.android.common.IbKeyDiagnostics
import io.ibkey.core.AppInfo
import io.ibkey.core.BundleRequest
import io.ibkey.core.DiagnosticsConfig
import io.ibkey.core.DiagnosticsException
import io.ibkey.core.LogLevel
import io.ibkey.core.Screenshot
import io.ibkey.core.SendOutcome
import io.ibkey.core.UploadPolicy
import io.ibkey.protocol.FileKind
import io.ibkey.protocol.LogMode
import io.ibkey.testsupport.ReferenceServer
import java.awt.Color
import java.awt.image.BufferedImage
import java.io.ByteArrayInputStream
import java.io.ByteArrayOutputStream
import java.nio.file.Files
import java.nio.file.Path
import java.util.concurrent.CopyOnWriteArrayList
import java.util.zip.ZipInputStream
import javax.imageio.ImageIO
import kotlin.test.assertContentEquals
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertIs
import kotlin.test.assertTrue
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.AfterAll
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.TestInstance

/**
 * "Upload Diagnostics" through the Kotlin bindings and the shell's [IbKeyDiagnostics]: a real
 * bundle (logs, network trace, a real PNG screenshot) previewed, sent over HttpURLConnection to
 * the real reference server, and fetched back by support with the reference the user reads out.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class DiagnosticsTest {
    private val server = ReferenceServer.start()

    @AfterAll
    fun stop() = server.close()

    @Test
    fun `a bundle with a screenshot is previewed, sent with progress, and support fetches it by its reference`() =
        runBlocking<Unit> {
            val sink = CollectingLogSink()
            IbKeyDiagnostics(diagnosticsConfig(tempDir(), server.url)).use { diagnostics ->
                diagnostics.setLogSink(sink, LogLevel.DEBUG)
                diagnostics.setLogMode(LogMode.EXTENDED)
                val ticket = server.ticket("ursula")
                Phone(server.url, server.publicKey, diagnostics = diagnostics).use { phone ->
                    phone.ibkey.activateWithSessionId(ticket.sessionId)
                }
                val screenshot = pngScreenshot(width = 360, height = 640)

                diagnostics.prepare(
                    BundleRequest(
                        comment = "activation fails, see screenshot",
                        username = "ursula",
                        screenshots = listOf(Screenshot("Screenshot_20261130.png", screenshot)),
                        includeNetworkTrace = true,
                    ),
                ).use { bundle ->
                    val preview = bundle.preview()
                    assertEquals(
                        listOf(FileKind.MANIFEST, FileKind.LOG, FileKind.NETWORK_TRACE, FileKind.SCREENSHOT),
                        preview.files.map { it.kind },
                    )
                    assertEquals("ursula", preview.manifest.username)
                    assertEquals(LogMode.EXTENDED, preview.manifest.logMode)
                    assertEquals(bundle.bytes().size.toLong(), preview.totalBytes.toLong())
                    assertEquals("[]", server.supportBundles().trim(), "nothing is sent before the user agrees")

                    val progress = CopyOnWriteArrayList<Pair<Long, Long>>()
                    val sent = assertIs<SendOutcome.Sent>(diagnostics.send(bundle) { done, total -> progress += done to total })
                    assertTrue(Regex("DIAG-[0-9A-Z]{6}").matches(sent.reference), sent.reference)
                    assertEquals(preview.bundleId, sent.bundleId)
                    assertEquals(preview.totalBytes.toLong() to preview.totalBytes.toLong(), progress.last())

                    val fetched = server.supportBundle(sent.reference)
                    assertContentEquals(bundle.bytes(), fetched, "support gets exactly the bundle previewed")
                    val files = unzip(fetched)
                    assertEquals(preview.files.map { it.path }, files.keys.toList(), "the zip holds what the manifest lists")
                    assertContentEquals(screenshot, files.getValue("screenshots/01-Screenshot_20261130.png"))
                    val har = files.getValue("network.har").decodeToString()
                    assertTrue("\"version\": \"1.2\"" in har, "a HAR 1.2 trace")
                    assertTrue("/v1/activation/lookup" in har && "/v1/activation/complete" in har, har.take(2000))
                    val manifest = files.getValue("manifest.json").decodeToString()
                    assertTrue("activation fails, see screenshot" in manifest && "\"username\": \"ursula\"" in manifest, manifest)
                    val text = files.filterKeys { !it.endsWith(".png") }.values.joinToString("\n") { it.decodeToString() }
                    assertTrue(PIN !in text, "the PIN never reaches a bundle")
                    assertTrue(ticket.sessionId !in text && ticket.sessionId.replace("-", "") !in text,
                        "a full session ID never reaches a bundle")
                }
                assertEquals(emptyList(), diagnostics.outbox())
                assertTrue(diagnostics.sentHistory().any { Regex("DIAG-[0-9A-Z]{6}").matches(it.reference) })
            }
            val logged = sink.lines.joinToString("\n") { it.third }
            assertTrue(sink.lines.any { it.second.startsWith("ibkey_core") && it.third.startsWith("activated") }, logged)
            assertTrue("diagnostics bundle sent" in logged, logged)
            assertTrue(PIN !in logged, "the PIN is never logged")
        }

    @Test
    fun `screenshots that are not images, damaged or too large get their own exceptions`() = runBlocking<Unit> {
        val config = diagnosticsConfig(tempDir(), server.url).copy(maxScreenshotBytes = 50_000uL)
        IbKeyDiagnostics(config).use { diagnostics ->
            suspend fun attach(bytes: ByteArray) =
                diagnostics.prepare(BundleRequest(comment = "", screenshots = listOf(Screenshot("shot.png", bytes))))

            val notAnImage = assertFailsWith<DiagnosticsException.ScreenshotNotAnImage> {
                attach("%PDF-1.7 not a screenshot".toByteArray())
            }
            assertEquals("DIAG_SCREENSHOT_NOT_AN_IMAGE", notAnImage.code())
            assertTrue(notAnImage.message.contains("not a PNG or JPEG"), notAnImage.message)

            val png = pngScreenshot(width = 120, height = 200)
            val damaged = assertFailsWith<DiagnosticsException.ScreenshotCorrupt> { attach(png.copyOf(png.size / 2)) }
            assertEquals("DIAG_SCREENSHOT_CORRUPT", damaged.code())

            val tooLarge = assertFailsWith<DiagnosticsException.ScreenshotTooLarge> {
                attach(pngScreenshot(width = 1080, height = 2400, noisy = true))
            }
            assertEquals("DIAG_SCREENSHOT_TOO_LARGE", tooLarge.code())
            assertEquals(50_000uL, tooLarge.limit)
            assertTrue(tooLarge.message.contains("smaller screenshot"), tooLarge.message)
            assertEquals(emptyList(), diagnostics.outbox(), "a refused bundle is not queued")
        }
    }

    @Test
    fun `offline a bundle waits in the outbox and goes out exactly once after a restart`() = runBlocking<Unit> {
        val dir = tempDir()
        val port = ReferenceServer.freePort()
        val url = "http://127.0.0.1:$port"
        val bundleId = IbKeyDiagnostics(diagnosticsConfig(dir, url)).use { diagnostics ->
            val queued = diagnostics.prepare(BundleRequest(comment = "sent from the train")).use { diagnostics.send(it) }
            val waiting = assertIs<SendOutcome.Queued>(queued)
            assertEquals(listOf("sent from the train"), diagnostics.outbox().map { it.comment })
            waiting.bundleId
        }

        ReferenceServer.start(port = port).use { server ->
            // The app starts again, with the network back.
            IbKeyDiagnostics(diagnosticsConfig(dir, url)).use { diagnostics ->
                assertEquals(listOf(bundleId), diagnostics.outbox().map { it.bundleId }, "the bundle survived the restart")
                val report = diagnostics.flushOutbox { _, _ -> error("a progress bar that throws") }
                assertEquals(listOf(bundleId), report.sent.map { it.bundleId }, "a failing progress bar stops nothing")
                assertEquals(emptyList(), report.waiting)
                assertEquals(emptyList(), diagnostics.outbox())
                assertEquals(emptyList(), diagnostics.flushOutbox().sent, "nothing is sent twice")
                val listed = Regex("\"bundle_id\"\\s*:\\s*\"$bundleId\"").findAll(server.supportBundles()).count()
                assertEquals(1, listed, "the server holds the bundle once")
                assertEquals(report.sent.single().reference, diagnostics.sentHistory().last().reference)
            }
        }
    }

    @Test
    fun `a bad server address or an over-long comment is a typed exception`() = runBlocking<Unit> {
        val insecure = assertFailsWith<DiagnosticsException.InsecureServer> {
            IbKeyDiagnostics(diagnosticsConfig(tempDir(), "http://support.example.com"))
        }
        assertEquals("DIAG_INSECURE_SERVER", insecure.code())

        IbKeyDiagnostics(diagnosticsConfig(tempDir(), server.url)).use { diagnostics ->
            val long = assertFailsWith<DiagnosticsException.CommentTooLong> {
                diagnostics.prepare(BundleRequest(comment = "x".repeat(5000)))
            }
            assertEquals(4000u, long.limit)
        }
    }

    private val tempDirs = mutableListOf<Path>()

    @AfterAll
    fun removeTempDirs() = tempDirs.forEach { it.toFile().deleteRecursively() }

    private fun tempDir(): Path = Files.createTempDirectory("ibkey-diagnostics-").also { tempDirs.add(it) }
}

/** Diagnostics of a test phone over [dir]; offline tries end fast (two attempts, 20 ms apart). */
internal fun diagnosticsConfig(dir: Path, serverUrl: String) = DiagnosticsConfig(
    dir = dir.toString(),
    serverUrl = serverUrl,
    app = AppInfo(
        appName = "ibkey JVM tests",
        appVersion = "1.0",
        platform = "jvm",
        osVersion = System.getProperty("os.name") + " " + System.getProperty("os.version"),
        deviceModel = "JVM test phone",
    ),
    upload = UploadPolicy(maxAttempts = 2u, firstBackoffMs = 20uL),
)

/** A real PNG, as a phone's screenshot would be; [noisy] makes it compress badly (a big file). */
internal fun pngScreenshot(width: Int, height: Int, noisy: Boolean = false): ByteArray {
    val image = BufferedImage(width, height, BufferedImage.TYPE_INT_RGB)
    val random = java.util.Random(7)
    for (y in 0 until height) {
        for (x in 0 until width) {
            val rgb = if (noisy) random.nextInt(0xFFFFFF) else if ((x / 20 + y / 20) % 2 == 0) Color.WHITE.rgb else 0x1E5AA8
            image.setRGB(x, y, rgb)
        }
    }
    return ByteArrayOutputStream().also { ImageIO.write(image, "png", it) }.toByteArray()
}

/** The entries of a zip, in order, by path. */
internal fun unzip(bytes: ByteArray): LinkedHashMap<String, ByteArray> {
    val entries = LinkedHashMap<String, ByteArray>()
    ZipInputStream(ByteArrayInputStream(bytes)).use { zip ->
        while (true) {
            val entry = zip.nextEntry ?: break
            entries[entry.name] = zip.readBytes()
        }
    }
    return entries
}
