package io.ibkey.tests

import io.ibkey.android.common.IbKeyDiagnostics
import io.ibkey.core.ActivationOutcome
import io.ibkey.core.BundleRequest
import io.ibkey.core.FrameResult
import io.ibkey.core.Screenshot
import io.ibkey.core.SendOutcome
import io.ibkey.ffi.Scanner
import io.ibkey.protocol.LogMode
import io.ibkey.testsupport.PushInbox
import io.ibkey.testsupport.ReferenceServer
import kotlin.test.assertEquals
import java.nio.file.Files
import kotlin.test.assertIs
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Test

/**
 * Prints how long one activation takes through Kotlin (bindings, facade, HttpURLConnection),
 * how long one login approval takes from the login page's password to "approved",
 * how long one 1080p camera frame takes to scan through the bindings, and how long a support
 * bundle takes to prepare and upload: measurements, not tests; nothing here asserts a time. Compare with the Rust figures from
 * `cargo run -p ibkey-ffi --release --example activation_timing` and
 * `cargo run -p ibkey-ffi --release --example frame_timing`.
 */
class TimingTest {
    @Test
    fun `print the time of one activation through Kotlin`() = runBlocking<Unit> {
        ReferenceServer.start().use { server ->
            Phone(server.url, server.publicKey).use { phone ->
                // Warm up the JIT and JNA; the first activation also chooses the PIN.
                repeat(5) {
                    assertIs<ActivationOutcome.Activated>(phone.ibkey.activateWithSessionId(server.ticket("warmup-$it").sessionId))
                }
                val rounds = 20
                val tickets = (1..rounds).map { server.ticket("timed-$it") }
                val millis = tickets.map { ticket ->
                    val start = System.nanoTime()
                    assertIs<ActivationOutcome.Activated>(phone.ibkey.activateWithSessionId(ticket.sessionId))
                    (System.nanoTime() - start) / 1e6
                }.sorted()
                println(
                    "TIMING kotlin activation by session ID (PIN confirm, $rounds rounds): " +
                        "median %.1f ms, min %.1f ms, max %.1f ms".format(millis[rounds / 2], millis.first(), millis.last()),
                )
            }
        }
    }

    @Test
    fun `print the time of one login approval through Kotlin`() = runBlocking<Unit> {
        PushInbox().use { pushes ->
            ReferenceServer.start(pushWebhook = pushes.url).use { server ->
                Phone(server.url, server.publicKey).use { phone ->
                    phone.ibkey.activateWithSessionId(server.ticket("alice").sessionId)
                    // The login page's password step, the push through the webhook gateway, the
                    // phone reading it, the number matched, the PIN (cheap hash), the signed
                    // decision, and the login page reading the result.
                    val approveOne = suspend {
                        val login = server.startLogin("alice")
                        val challenge = phone.ibkey.readPush(pushes.next("alice"))
                        phone.ibkey.approve(challenge, login.number.toUByte())
                        assertEquals("approved", server.loginState(login))
                    }
                    repeat(5) { approveOne() } // JIT and JNA warm-up
                    val rounds = 20
                    val millis = (1..rounds).map {
                        val start = System.nanoTime()
                        approveOne()
                        (System.nanoTime() - start) / 1e6
                    }.sorted()
                    println(
                        "TIMING kotlin login approval, push to approved (webhook push, PIN confirm, $rounds rounds): " +
                            "median %.1f ms, min %.1f ms, max %.1f ms".format(millis[rounds / 2], millis.first(), millis.last()),
                    )
                }
            }
        }
    }

    @Test
    fun `print the time of one 1080p frame scan through Kotlin`() {
        ReferenceServer.start().use { server ->
            // The ticket's QR code as `ibkey ticket --qr-out` renders it, in a padded 1080p plane
            // (the same frame as the Rust example's).
            val frame = LumaFrame().draw(server.ticketQrPng("timing"))
            Scanner().use { scanner ->
                val scan = {
                    scanner.scanFrame(frame.width.toUInt(), frame.height.toUInt(), frame.rowStride.toUInt(), frame.buffer)
                }
                val payload = assertIs<FrameResult.Payload>(scan()).text
                repeat(5) { scan() } // JIT and JNA warm-up
                val rounds = 50
                val millis = (1..rounds).map {
                    val start = System.nanoTime()
                    val result = scan()
                    val elapsed = (System.nanoTime() - start) / 1e6
                    assertIs<FrameResult.SameAsBefore>(result)
                    elapsed
                }.sorted()
                println(
                    "TIMING kotlin 1080p frame scan (${payload.length}-character payload, $rounds rounds): " +
                        "median %.2f ms, min %.2f ms, max %.2f ms".format(millis[rounds / 2], millis.first(), millis.last()),
                )
            }
        }
    }

    @Test
    fun `print the time of one diagnostics upload through Kotlin`() = runBlocking<Unit> {
        val dir = Files.createTempDirectory("ibkey-timing-diagnostics-")
        try {
            ReferenceServer.start().use { server ->
                IbKeyDiagnostics(diagnosticsConfig(dir, server.url)).use { diagnostics ->
                    diagnostics.setLogMode(LogMode.EXTENDED)
                    Phone(server.url, server.publicKey, diagnostics = diagnostics).use { phone ->
                        repeat(10) { phone.ibkey.activateWithSessionId(server.ticket("logged-$it").sessionId) }
                    }
                    val request = BundleRequest(
                        comment = "timing",
                        screenshots = listOf(Screenshot("screen.png", pngScreenshot(width = 1080, height = 2400))),
                        includeNetworkTrace = true,
                    )
                    suspend fun upload(): Pair<Long, Double> {
                        val start = System.nanoTime()
                        val bytes = diagnostics.prepare(request).use { bundle ->
                            assertIs<SendOutcome.Sent>(diagnostics.send(bundle))
                            bundle.preview().totalBytes.toLong()
                        }
                        return bytes to (System.nanoTime() - start) / 1e6
                    }
                    repeat(3) { upload() } // JIT and JNA warm-up
                    val rounds = 20
                    val runs = (1..rounds).map { upload() }
                    val millis = runs.map { it.second }.sorted()
                    println(
                        "TIMING kotlin diagnostics bundle prepared and uploaded (${runs.last().first} B, " +
                            "log + HAR of 10 activations + a 1080x2400 PNG, $rounds rounds): " +
                            "median %.1f ms, min %.1f ms, max %.1f ms".format(millis[rounds / 2], millis.first(), millis.last()),
                    )
                }
            }
        } finally {
            dir.toFile().deleteRecursively()
        }
    }
}
