package io.ibkey.tests

import io.ibkey.android.common.IbKeyDiagnostics
import io.ibkey.core.ActivationException
import io.ibkey.core.AppInfo
import io.ibkey.core.BiometricOutcome
import io.ibkey.core.DiagnosticsConfig
import io.ibkey.core.GateException
import io.ibkey.core.HttpRequest
import io.ibkey.core.HttpResponse
import io.ibkey.core.HttpTransport
import io.ibkey.core.LogLevel
import io.ibkey.core.PinEntry
import io.ibkey.core.PinRequest
import io.ibkey.core.ScanException
import io.ibkey.core.StoreException
import io.ibkey.core.UserVerifier
import io.ibkey.ffi.InternalException
import io.ibkey.ffi.decodeQrImage
import io.ibkey.ffi.triggerPanicForTests
import io.ibkey.testsupport.ReferenceServer
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertIs
import kotlin.test.assertTrue
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.AfterAll
import org.junit.jupiter.api.BeforeAll
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.TestInstance

/** What crosses the FFI boundary besides the happy path: panics, foreign exceptions, logs. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class BoundaryTest {
    private lateinit var server: ReferenceServer

    @BeforeAll
    fun startServer() {
        server = ReferenceServer.start()
    }

    @AfterAll
    fun stopServer() = server.close()

    @Test
    fun `a Rust panic surfaces as a catchable exception and the library keeps working`() {
        val e = assertFailsWith<InternalException> { triggerPanicForTests("boom from the test") }
        assertTrue(e.message.orEmpty().contains("boom from the test"), e.message)

        val junk = assertFailsWith<ScanException.NotAnImage> { decodeQrImage("not an image".toByteArray()) }
        assertEquals("SCAN_NOT_AN_IMAGE", junk.code())
    }

    @Test
    fun `an exception thrown by the shell's store becomes a typed error`() = runBlocking<Unit> {
        Phone(server.url, server.publicKey).use { phone ->
            phone.store.failWrites = true
            val e = assertFailsWith<ActivationException> {
                phone.ibkey.activateFromQr(server.ticket("oscar").qrPayload)
            }
            assertIs<ActivationException.Store>(e)
            assertIs<StoreException.Unreadable>(e.error)
            assertEquals("STORE_UNREADABLE", e.code())
            assertTrue(e.message.contains("disk full"), e.message)

            phone.store.failWrites = false
            phone.ibkey.activateFromQr(server.ticket("oscar").qrPayload)
            assertEquals(listOf("oscar"), phone.ibkey.accounts().map { it.username })
        }
    }

    @Test
    fun `an exception thrown by the shell's HTTP transport means the server is unreachable`() = runBlocking<Unit> {
        val broken = object : HttpTransport {
            override suspend fun send(request: HttpRequest): HttpResponse = throw IllegalStateException("no network stack")
        }
        Phone(server.url, server.publicKey, http = broken).use { phone ->
            val e = assertFailsWith<ActivationException.ServerUnreachable> {
                phone.ibkey.activateFromQr(server.ticket("peggy").qrPayload)
            }
            assertTrue(e.reason.contains("no network stack"), e.reason)
            assertEquals("ACT_SERVER_UNREACHABLE", e.code())
        }
    }

    @Test
    fun `an exception thrown by the shell's PIN pad counts as a cancel`() = runBlocking<Unit> {
        val broken = object : UserVerifier {
            override suspend fun requestPin(request: PinRequest): PinEntry = throw IllegalStateException("no activity")
            override suspend fun verifyBiometric(reason: String): BiometricOutcome = throw IllegalStateException("no activity")
        }
        Phone(server.url, server.publicKey, verifier = broken).use { phone ->
            val e = assertFailsWith<ActivationException.Verification> {
                phone.ibkey.activateFromQr(server.ticket("trent").qrPayload)
            }
            assertIs<GateException.Cancelled>(e.error)
            assertEquals("GATE_CANCELLED", e.code())
        }
    }

    @Test
    fun `a server that is down is unreachable through the real transport`() = runBlocking<Unit> {
        val down = ReferenceServer.start()
        val downKey = down.publicKey
        down.close()
        Phone(down.url, downKey).use { phone ->
            val e = assertFailsWith<ActivationException.ServerUnreachable> {
                phone.ibkey.activateWithSessionId(server.ticket("rupert").sessionId)
            }
            assertTrue(e.message.startsWith("The server could not be reached"), e.message)
        }
    }

    @Test
    fun `the core's logs reach the shell's sink without secrets`() = runBlocking<Unit> {
        val sink = CollectingLogSink()
        val dir = java.nio.file.Files.createTempDirectory("ibkey-logs-")
        try {
            val config = DiagnosticsConfig(dir.toString(), server.url, AppInfo("tests", "1.0", "jvm", "", ""))
            IbKeyDiagnostics(config).use { diagnostics ->
                diagnostics.setLogSink(sink, LogLevel.DEBUG)
                Phone(server.url, server.publicKey, diagnostics = diagnostics).use { phone ->
                    val ticket = server.ticket("sybil")
                    phone.ibkey.activateWithSessionId(ticket.sessionId)

                    val lines = sink.lines.toList()
                    assertTrue(lines.any { (level, target, message) ->
                        level == LogLevel.INFO && target.startsWith("ibkey_core") && message.startsWith("activated")
                    }, "$lines")
                    assertTrue(lines.any { it.first == LogLevel.DEBUG && it.third.startsWith("server request") }, "$lines")
                    val text = lines.joinToString("\n") { it.third }
                    assertTrue(PIN !in text, "the PIN is never logged")
                    assertTrue(ticket.sessionId !in text && ticket.sessionId.replace("-", "") !in text,
                        "a full session ID is never logged")
                }
                diagnostics.setLogSink(null, LogLevel.ERROR)
            }
        } finally {
            dir.toFile().deleteRecursively()
        }
    }
}
