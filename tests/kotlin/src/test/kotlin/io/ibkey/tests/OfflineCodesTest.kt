package io.ibkey.tests

import io.ibkey.android.common.ibkeyCode
import io.ibkey.core.CodesException
import io.ibkey.core.OtpException
import io.ibkey.core.OtpKind
import io.ibkey.core.otpCode
import io.ibkey.ffi.setPhoneClockSkewForTests
import io.ibkey.testsupport.ReferenceServer
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertTrue
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.AfterAll
import org.junit.jupiter.api.BeforeAll
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.TestInstance

/**
 * Codes without a network through the Kotlin bindings against the real reference server:
 * challenge/response and time-based codes (the phone computes them offline; only the login
 * page talks to the server), and any `otpauth://` URI.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class OfflineCodesTest {
    private lateinit var server: ReferenceServer

    @BeforeAll
    fun startServer() {
        server = ReferenceServer.start()
    }

    @AfterAll
    fun stopServer() = server.close()

    private suspend fun enrolledPhone(user: String): Phone {
        val phone = Phone(server.url, server.publicKey)
        phone.ibkey.activateWithSessionId(server.ticket(user).sessionId)
        return phone
    }

    @Test
    fun `a challenge answered on the phone logs in once, and a mistyped one is caught on the phone`() =
        runBlocking<Unit> {
            enrolledPhone("quinn").use { phone ->
                val login = server.startLogin("quinn")
                val challenge = server.offlineChallenge(login)
                assertEquals(7, challenge.length, "grouped as 123 456: $challenge")

                val digits = challenge.filter { it.isDigit() }
                val swapped = digits.substring(1, 2) + digits.substring(0, 1) + digits.substring(2)
                if (swapped != digits) {
                    val typo = assertFailsWith<CodesException.ChallengeMistyped> { phone.ibkey.respond("quinn", swapped) }
                    assertEquals("COD_CHALLENGE_MISTYPED", typo.ibkeyCode)
                }

                val answer = phone.ibkey.respond("quinn", challenge)
                assertEquals(8, answer.response.length)
                val (status, reply) = server.submitResponse(login, answer.response)
                assertEquals(200, status, reply)
                assertEquals("approved", server.loginState(login))

                val (again, refused) = server.submitResponse(login, answer.response)
                assertTrue(again >= 400, refused)
            }
        }

    @Test
    fun `a time-based code from the phone is accepted once`() = runBlocking<Unit> {
        enrolledPhone("rosa").use { phone ->
            val login = server.startLogin("rosa")
            val code = phone.ibkey.timeCode("rosa")
            assertEquals(6, code.code.length)
            assertEquals(30u, code.period)
            assertTrue(code.secondsLeft in 1u..30u, "seconds left: ${code.secondsLeft}")
            val (status, reply) = server.submitTimeCode(login, code.code)
            assertEquals(200, status, reply)
            assertEquals("approved", server.loginState(login))

            val next = server.startLogin("rosa")
            val (again, refused) = server.submitTimeCode(next, code.code)
            assertTrue(again >= 400, "a code is good once: $refused")
        }
    }

    @Test
    fun `a phone clock minutes off still gives accepted codes`() = runBlocking<Unit> {
        for ((name, skew) in listOf("ahead" to 300L, "behind" to -300L)) {
            setPhoneClockSkewForTests(skew)
            try {
                // The phone learns how far off it is from the server's signed times.
                enrolledPhone("clock-$name").use { phone ->
                    assertEquals(skew, phone.ibkey.clockOffsetSecs()?.let { Math.round(it / 60.0) * 60 }, "learned offset")
                    val login = server.startLogin("clock-$name")
                    val (status, reply) = server.submitTimeCode(login, phone.ibkey.timeCode("clock-$name").code)
                    assertEquals(200, status, "phone $name by $skew s: $reply")
                    val next = server.startLogin("clock-$name")
                    val answer = phone.ibkey.respond("clock-$name", server.offlineChallenge(next))
                    assertEquals(200, server.submitResponse(next, answer.response).first)
                }
            } finally {
                setPhoneClockSkewForTests(0)
            }
        }
    }

    @Test
    fun `a user who is not on the phone gets a clear error`() = runBlocking<Unit> {
        enrolledPhone("sven").use { phone ->
            val e = assertFailsWith<CodesException.UnknownAccount> { phone.ibkey.respond("tara", "123455") }
            assertEquals("tara", e.username)
        }
    }

    @Test
    fun `otpauth URIs give RFC codes, and malformed ones say what is wrong`() {
        // RFC 6238 Appendix B, SHA-1, T = 59 and T = 20000000000 (past 2038).
        val rfc = "otpauth://totp/Example:alice?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&digits=8&issuer=Example"
        assertEquals("94287082", otpCode(rfc, 59).code)
        assertEquals("65353130", otpCode(rfc, 20_000_000_000).code)
        assertEquals(OtpKind.TOTP, otpCode(rfc, 59).kind)
        // RFC 4226 Appendix D, counter 1.
        val hotp = "otpauth://hotp/alice?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&counter=1"
        assertEquals("287082", otpCode(hotp, 0).code)

        for (bad in listOf(
            "https://example.com",
            "otpauth://totp/alice?secret=GEZDGNBVGY3TQOJQ&period=0",
            "otpauth://totp/alice?secret=GEZDGNBVGY3TQOJQGEZDGNBV&digits=10",
            "otpauth://totp/alice",
            "otpauth://hotp/alice?secret=GEZDGNBVGY3TQOJQGEZDGNBV",
        )) {
            val e = assertFailsWith<OtpException>(bad) { otpCode(bad, 59) }
            assertTrue(e.ibkeyCode!!.startsWith("OTP_"), "${e.ibkeyCode}")
            assertTrue(!e.message!!.contains("GEZDGNBV"), "the secret is in the message: ${e.message}")
        }
    }
}
